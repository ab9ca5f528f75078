"""Money as `Decimal`: ISO 4217 currencies, parsing, half-up rounding, formatting, splits.

No float ever touches money: every entry point rejects floats (and bools) with TypeError.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Context, Decimal
from types import MappingProxyType

__all__ = [
    "CURRENCY_MINOR_UNITS",
    "PERCENT_TOLERANCE",
    "is_currency",
    "minor_units",
    "quantum",
    "to_decimal",
    "round_money",
    "format_money",
    "display_money",
    "percent_of",
    "check_percents",
    "split_by_percent",
]

# ISO 4217 List One (active codes, as amended through 2025) -> minor units.
# Left out on purpose: the codes whose minor units ISO gives as "N.A." because no invoice can
# be written in them -- precious metals (XAU, XAG, XPD, XPT), the IMF's special drawing right
# (XDR), the bond-market units (XBA, XBB, XBC, XBD), the SUCRE (XSU), the ADB unit of account
# (XUA), the testing code (XTS) and "no currency" (XXX).
# Kept: the national fund codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW), which ISO lists
# with real minor units and which contracts are written in (Chile's CLF above all).
# Kept while ISO still lists them during a changeover: ANG (-> XCG), CUC, SLL (-> SLE),
# BGN (-> EUR); removed ones (HRK, ZWL, MRO, STD, VEF, BYR) are not accepted.
_MINOR_UNITS: dict[str, int] = {
    "AED": 2,  # UAE dirham
    "AFN": 2,  # Afghani
    "ALL": 2,  # Lek
    "AMD": 2,  # Armenian dram
    "ANG": 2,  # Netherlands Antillean guilder (being replaced by XCG)
    "AOA": 2,  # Kwanza
    "ARS": 2,  # Argentine peso
    "AUD": 2,  # Australian dollar
    "AWG": 2,  # Aruban florin
    "AZN": 2,  # Azerbaijan manat
    "BAM": 2,  # Convertible mark
    "BBD": 2,  # Barbados dollar
    "BDT": 2,  # Taka
    "BGN": 2,  # Bulgarian lev
    "BHD": 3,  # Bahraini dinar
    "BIF": 0,  # Burundi franc
    "BMD": 2,  # Bermudian dollar
    "BND": 2,  # Brunei dollar
    "BOB": 2,  # Boliviano
    "BOV": 2,  # Mvdol (fund code)
    "BRL": 2,  # Brazilian real
    "BSD": 2,  # Bahamian dollar
    "BTN": 2,  # Ngultrum
    "BWP": 2,  # Pula
    "BYN": 2,  # Belarusian ruble
    "BZD": 2,  # Belize dollar
    "CAD": 2,  # Canadian dollar
    "CDF": 2,  # Congolese franc
    "CHE": 2,  # WIR euro (fund code)
    "CHF": 2,  # Swiss franc
    "CHW": 2,  # WIR franc (fund code)
    "CLF": 4,  # Unidad de Fomento (fund code)
    "CLP": 0,  # Chilean peso
    "CNY": 2,  # Yuan renminbi
    "COP": 2,  # Colombian peso
    "COU": 2,  # Unidad de Valor Real (fund code)
    "CRC": 2,  # Costa Rican colon
    "CUC": 2,  # Peso convertible
    "CUP": 2,  # Cuban peso
    "CVE": 2,  # Cabo Verde escudo
    "CZK": 2,  # Czech koruna
    "DJF": 0,  # Djibouti franc
    "DKK": 2,  # Danish krone
    "DOP": 2,  # Dominican peso
    "DZD": 2,  # Algerian dinar
    "EGP": 2,  # Egyptian pound
    "ERN": 2,  # Nakfa
    "ETB": 2,  # Ethiopian birr
    "EUR": 2,  # Euro
    "FJD": 2,  # Fiji dollar
    "FKP": 2,  # Falkland Islands pound
    "GBP": 2,  # Pound sterling
    "GEL": 2,  # Lari
    "GHS": 2,  # Ghana cedi
    "GIP": 2,  # Gibraltar pound
    "GMD": 2,  # Dalasi
    "GNF": 0,  # Guinean franc
    "GTQ": 2,  # Quetzal
    "GYD": 2,  # Guyana dollar
    "HKD": 2,  # Hong Kong dollar
    "HNL": 2,  # Lempira
    "HTG": 2,  # Gourde
    "HUF": 2,  # Forint
    "IDR": 2,  # Rupiah
    "ILS": 2,  # New Israeli sheqel
    "INR": 2,  # Indian rupee
    "IQD": 3,  # Iraqi dinar
    "IRR": 2,  # Iranian rial
    "ISK": 0,  # Iceland krona
    "JMD": 2,  # Jamaican dollar
    "JOD": 3,  # Jordanian dinar
    "JPY": 0,  # Yen
    "KES": 2,  # Kenyan shilling
    "KGS": 2,  # Som
    "KHR": 2,  # Riel
    "KMF": 0,  # Comorian franc
    "KPW": 2,  # North Korean won
    "KRW": 0,  # Won
    "KWD": 3,  # Kuwaiti dinar
    "KYD": 2,  # Cayman Islands dollar
    "KZT": 2,  # Tenge
    "LAK": 2,  # Lao kip
    "LBP": 2,  # Lebanese pound
    "LKR": 2,  # Sri Lanka rupee
    "LRD": 2,  # Liberian dollar
    "LSL": 2,  # Loti
    "LYD": 3,  # Libyan dinar
    "MAD": 2,  # Moroccan dirham
    "MDL": 2,  # Moldovan leu
    "MGA": 2,  # Malagasy ariary
    "MKD": 2,  # Denar
    "MMK": 2,  # Kyat
    "MNT": 2,  # Tugrik
    "MOP": 2,  # Pataca
    "MRU": 2,  # Ouguiya
    "MUR": 2,  # Mauritius rupee
    "MVR": 2,  # Rufiyaa
    "MWK": 2,  # Malawi kwacha
    "MXN": 2,  # Mexican peso
    "MXV": 2,  # Mexican Unidad de Inversion (fund code)
    "MYR": 2,  # Malaysian ringgit
    "MZN": 2,  # Mozambique metical
    "NAD": 2,  # Namibia dollar
    "NGN": 2,  # Naira
    "NIO": 2,  # Cordoba oro
    "NOK": 2,  # Norwegian krone
    "NPR": 2,  # Nepalese rupee
    "NZD": 2,  # New Zealand dollar
    "OMR": 3,  # Rial Omani
    "PAB": 2,  # Balboa
    "PEN": 2,  # Sol
    "PGK": 2,  # Kina
    "PHP": 2,  # Philippine peso
    "PKR": 2,  # Pakistan rupee
    "PLN": 2,  # Zloty
    "PYG": 0,  # Guarani
    "QAR": 2,  # Qatari rial
    "RON": 2,  # Romanian leu
    "RSD": 2,  # Serbian dinar
    "RUB": 2,  # Russian ruble
    "RWF": 0,  # Rwanda franc
    "SAR": 2,  # Saudi riyal
    "SBD": 2,  # Solomon Islands dollar
    "SCR": 2,  # Seychelles rupee
    "SDG": 2,  # Sudanese pound
    "SEK": 2,  # Swedish krona
    "SGD": 2,  # Singapore dollar
    "SHP": 2,  # Saint Helena pound
    "SLE": 2,  # Leone
    "SLL": 2,  # Leone (old; being replaced by SLE)
    "SOS": 2,  # Somali shilling
    "SRD": 2,  # Surinam dollar
    "SSP": 2,  # South Sudanese pound
    "STN": 2,  # Dobra
    "SVC": 2,  # El Salvador colon
    "SYP": 2,  # Syrian pound
    "SZL": 2,  # Lilangeni
    "THB": 2,  # Baht
    "TJS": 2,  # Somoni
    "TMT": 2,  # Turkmenistan new manat
    "TND": 3,  # Tunisian dinar
    "TOP": 2,  # Pa'anga
    "TRY": 2,  # Turkish lira
    "TTD": 2,  # Trinidad and Tobago dollar
    "TWD": 2,  # New Taiwan dollar
    "TZS": 2,  # Tanzanian shilling
    "UAH": 2,  # Hryvnia
    "UGX": 0,  # Uganda shilling
    "USD": 2,  # US dollar
    "USN": 2,  # US dollar, next day (fund code)
    "UYI": 0,  # Uruguay peso en unidades indexadas (fund code)
    "UYU": 2,  # Peso uruguayo
    "UYW": 4,  # Unidad previsional (fund code)
    "UZS": 2,  # Uzbekistan sum
    "VED": 2,  # Bolivar soberano (digital)
    "VES": 2,  # Bolivar soberano
    "VND": 0,  # Dong
    "VUV": 0,  # Vatu
    "WST": 2,  # Tala
    "XAF": 0,  # CFA franc BEAC
    "XCD": 2,  # East Caribbean dollar
    "XCG": 2,  # Caribbean guilder
    "XOF": 0,  # CFA franc BCEAO
    "XPF": 0,  # CFP franc
    "YER": 2,  # Yemeni rial
    "ZAR": 2,  # Rand
    "ZMW": 2,  # Zambian kwacha
    "ZWG": 2,  # Zimbabwe gold
}

CURRENCY_MINOR_UNITS: Mapping[str, int] = MappingProxyType(_MINOR_UNITS)

# Codes people still type, mapped to what replaced them, so the error can say so.
_WITHDRAWN = {
    "BYR": "BYN", "EEK": "EUR", "HRK": "EUR", "LTL": "EUR", "LVL": "EUR", "MRO": "MRU",
    "SKK": "EUR", "STD": "STN", "VEF": "VES", "ZWL": "ZWG",
}
_NOT_MONEY = frozenset(
    {"XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"}
)

# Thirds written to full precision (or as 33.33 + 33.33 + 33.33) never add to exactly 100;
# the last part absorbs the remainder anyway, so a sliver of a percentage point is accepted.
PERCENT_TOLERANCE = Decimal("0.01")

_QUANTA: dict[str, Decimal] = {code: Decimal(1).scaleb(-n) for code, n in _MINOR_UNITS.items()}
_HUNDRED = Decimal(100)
# A plain decimal: no exponent, no separators, no underscores (Decimal() would accept those).
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
# Wide enough that no product or quotient of realistic amounts is rounded before we round it.
_WIDE = Context(prec=60)


def is_currency(code: object) -> bool:
    """Tell whether `code` is an active ISO 4217 currency code."""
    return isinstance(code, str) and code in _MINOR_UNITS


def minor_units(code: object) -> int:
    """Return the number of decimal places of `code`; ValueError if it is not ISO 4217."""
    if isinstance(code, str) and code in _MINOR_UNITS:
        return _MINOR_UNITS[code]
    raise ValueError(_unknown_currency(code))


def quantum(code: object) -> Decimal:
    """Return the smallest unit of `code` as a Decimal exponent (USD 0.01, JPY 1, BHD 0.001)."""
    minor_units(code)
    return _QUANTA[code]  # type: ignore[index]


def to_decimal(value: object) -> Decimal:
    """Parse a money or percentage value from str, int or Decimal, rejecting floats."""
    if isinstance(value, bool) or isinstance(value, float):
        # bool is an int subclass; True as "1.00" would be a silent accident.
        raise TypeError(f"{value!r} is a {type(value).__name__}; write amounts as decimal strings")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        if not _DECIMAL_TEXT.fullmatch(value):
            raise ValueError(f"{value!r} is not a decimal amount")
        result = Decimal(value)
    else:
        raise TypeError(f"{value!r} is a {type(value).__name__}, not a decimal amount")
    if not result.is_finite():
        raise ValueError(f"'{value}' is not a decimal amount")
    return result


def round_money(amount: Decimal | int | str, currency: str) -> Decimal:
    """Round `amount` half-up (away from zero at .5) to the minor units of `currency`."""
    # Almost every amount is already a finite Decimal in a known currency: that case skips
    # the parsing and the checks (which still run, and raise, for anything else).
    exact = amount if type(amount) is Decimal and amount.is_finite() else to_decimal(amount)
    step = _QUANTA.get(currency) if type(currency) is str else None
    if step is None:
        step = quantum(currency)
    rounded = exact.quantize(step, rounding=ROUND_HALF_UP, context=_WIDE)
    # -0.001 rounds to -0.00; an invoice should never show a negative zero.
    return rounded.copy_abs() if rounded.is_zero() else rounded


def format_money(amount: Decimal | int | str, currency: str) -> str:
    """Render `amount` as the contract string: "1234.50", JPY "1235", "-3.00"."""
    return format(round_money(amount, currency), "f")


def display_money(amount: Decimal | int | str, currency: str) -> str:
    """Render `amount` for people, with thousands separators: "1,234.50"."""
    return format(round_money(amount, currency), ",f")


def percent_of(amount: Decimal | int | str, percent: Decimal | int | str, currency: str) -> Decimal:
    """Return `percent` % of `amount`, rounded half-up to the currency's minor units."""
    exact = _WIDE.divide(_WIDE.multiply(to_decimal(amount), to_decimal(percent)), _HUNDRED)
    return round_money(exact, currency)


def check_percents(percents: Sequence[Decimal | int | str]) -> list[Decimal]:
    """Parse `percents` and check they are non-negative and add up to 100."""
    if isinstance(percents, (str, bytes)):
        raise TypeError("percentages must be a sequence of decimal values, not one string")
    if not percents:
        raise ValueError("at least one percentage is needed")
    parsed = [to_decimal(p) for p in percents]
    for p in parsed:
        if p < 0:
            raise ValueError(f"percentage {p} is negative")
    total = _WIDE.create_decimal(sum(parsed, Decimal(0)))
    if abs(total - _HUNDRED) > PERCENT_TOLERANCE:
        raise ValueError(f"the percentages add up to {total.normalize():f}, not 100")
    return parsed


def split_by_percent(
    total: Decimal | int | str, percents: Sequence[Decimal | int | str], currency: str
) -> list[Decimal]:
    """Split `total` by `percents`; each part is rounded half-up and the last absorbs the rest."""
    exact_total = to_decimal(total)
    if round_money(exact_total, currency) != exact_total:
        places = minor_units(currency)
        raise ValueError(f"{exact_total} has more decimal places than {currency} allows ({places})")
    parsed = check_percents(percents)
    parts = [percent_of(exact_total, p, currency) for p in parsed[:-1]]
    # The remainder keeps the parts summing to the total exactly, whatever the rounding did.
    parts.append(round_money(exact_total - sum(parts, Decimal(0)), currency))
    return parts


def _unknown_currency(code: object) -> str:
    message = f"{code!r} is not an ISO 4217 currency code"
    if not isinstance(code, str):
        return message
    if code in _WITHDRAWN:
        return f"{code!r} is a withdrawn currency code (did you mean {_WITHDRAWN[code]!r}?)"
    if code in _NOT_MONEY:
        return f"{code!r} is an ISO 4217 unit of account, not a currency to invoice in"
    close = difflib.get_close_matches(code.strip().upper(), list(_MINOR_UNITS), n=1, cutoff=0.6)
    return f"{message} (did you mean {close[0]!r}?)" if close else message
