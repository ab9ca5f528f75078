"""Domain values of billflow: money, durations, the agency calendar, payment terms."""

from engine.model.calendar import (
    AgencyCalendar,
    BillingDay,
    BillingDayKind,
    holiday_dates,
    is_holiday_calendar,
    is_timezone,
    parse_billing_day,
    parse_time_of_day,
)
from engine.model.duration import Duration, DurationUnit, parse_duration
from engine.model.money import (
    CURRENCY_MINOR_UNITS,
    PERCENT_TOLERANCE,
    check_percents,
    display_money,
    format_money,
    is_currency,
    minor_units,
    percent_of,
    quantum,
    round_money,
    split_by_percent,
    to_decimal,
)
from engine.model.terms import MAX_TERM_DAYS, PaymentTerms, TermsKind, parse_payment_terms

__all__ = [
    # money
    "CURRENCY_MINOR_UNITS",
    "PERCENT_TOLERANCE",
    "check_percents",
    "display_money",
    "format_money",
    "is_currency",
    "minor_units",
    "percent_of",
    "quantum",
    "round_money",
    "split_by_percent",
    "to_decimal",
    # duration
    "Duration",
    "DurationUnit",
    "parse_duration",
    # calendar
    "AgencyCalendar",
    "BillingDay",
    "BillingDayKind",
    "holiday_dates",
    "is_holiday_calendar",
    "is_timezone",
    "parse_billing_day",
    "parse_time_of_day",
    # terms
    "MAX_TERM_DAYS",
    "PaymentTerms",
    "TermsKind",
    "parse_payment_terms",
]
