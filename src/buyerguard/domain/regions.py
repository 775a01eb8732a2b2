"""Region codes: GB/T 2260 for China, ISO 3166-2 style (`BR-SP`) elsewhere."""

from __future__ import annotations

import re

from buyerguard.errors import InvalidInput

# The 34 province-level divisions of GB/T 2260 (first two digits).
PROVINCE_PREFIXES = frozenset(
    {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34"}
    | {"35", "36", "37", "41", "42", "43", "44", "45", "46", "50", "51", "52"}
    | {"53", "54", "61", "62", "63", "64", "65", "71", "81", "82"}
)
_GBT_PATTERN = re.compile(r"^\d{6}$")
_ISO_PATTERN = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")


def validate_gbt2260(code: object, *, field: str = "region") -> str:
    """A 6-digit GB/T 2260 code whose first two digits name a province."""
    if (
        not isinstance(code, str)
        or not _GBT_PATTERN.match(code)
        or code[:2] not in PROVINCE_PREFIXES
    ):
        raise InvalidInput("region_malformed", f"{field} is not a GB/T 2260 code: {code!r}", field)
    return code


def validate_region(code: object, *, field: str = "region") -> str:
    """GB/T 2260 (`440305`) or ISO 3166-2 style (`BR-SP`)."""
    if isinstance(code, str) and is_iso_region(code):
        return code
    return validate_gbt2260(code, field=field)


def is_iso_region(code: str) -> bool:
    return bool(_ISO_PATTERN.match(code))


def province_of(code: str) -> str:
    """The province-level code (`440305` -> `440000`); an ISO code is its own province."""
    return code if is_iso_region(code) else code[:2] + "0000"


def city_of(code: str) -> str:
    """The prefecture-level code of a GB/T 2260 code (`440305` -> `440300`)."""
    return code if is_iso_region(code) else code[:4] + "00"


def validate_address_codes(province: str, city: str, district: str) -> None:
    """Province, city and district codes that nest inside each other."""
    validate_gbt2260(province, field="province_code")
    validate_gbt2260(city, field="city_code")
    validate_gbt2260(district, field="district_code")
    if province != province_of(province):
        raise InvalidInput("region_malformed", "province_code must end in 0000", "province_code")
    if province_of(city) != province or city.endswith("0000"):
        raise InvalidInput(
            "region_mismatch", f"city_code {city} is not in province {province}", "city_code"
        )
    if city_of(district) != city and not (city.endswith("00") and district[:2] == city[:2]):
        raise InvalidInput(
            "region_mismatch", f"district_code {district} is not in city {city}", "district_code"
        )
