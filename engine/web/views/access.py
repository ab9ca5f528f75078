"""Who sees which clients: an account lead their own clients, finance every client."""

from __future__ import annotations

from engine.ruleset.types import RuleSet

__all__ = ["visible_clients", "account_leads"]


def visible_clients(rules: RuleSet, person: str, finance: bool,
                    lead: str | None = None) -> list[str]:
    """Return the ids of the clients `person` may see, narrowed to those `lead` leads."""
    return [client.id for client in rules.clients.values()
            if (finance or client.account_lead == person)
            and (not lead or client.account_lead == lead)]


def account_leads(rules: RuleSet, client_ids: list[str]) -> list[tuple[str, str]]:
    """Return (person id, name) of the leads of `client_ids`, by name: the filter's choices."""
    leads = {rules.clients[cid].account_lead for cid in client_ids}
    people = rules.agency.people
    return sorted(((lead, people[lead].name if lead in people else lead) for lead in leads),
                  key=lambda pair: (pair[1].casefold(), pair[0]))
