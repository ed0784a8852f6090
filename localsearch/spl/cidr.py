"""CIDR values in `search` (Search Reference, search: "supports IPv4 and IPv6 addresses and subnets that use
CIDR notation"): `field=10.0.0.0/8` matches a field whose value is an IPv4 address in that subnet; a value that
is not an address does not match. IPv6 subnets are refused (not matched as text)."""
from __future__ import annotations

import ipaddress
import re
from typing import Optional, Tuple

from .errors import Unsupported
from ..sqltext import sql_literal as lit

_V4 = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})/(\d{1,2})")
_V6 = re.compile(r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*/\d{1,3}")
# a dotted-quad IPv4 address, each part 0-255 (RE2 syntax, full match)
OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4_RE = rf"{OCTET}\.{OCTET}\.{OCTET}\.{OCTET}"


def ipv4_subnet(value: str, pos: int) -> Optional[Tuple[int, int]]:
    """(network as an integer, prefix length) when the search value is an IPv4 CIDR; None when it is no CIDR.
    An IPv6 CIDR is refused."""
    m = _V4.fullmatch(value)
    if m:
        try:
            net = ipaddress.IPv4Network(value, strict=False)
        except ValueError:
            return None
        return int(net.network_address), net.prefixlen
    if _V6.fullmatch(value):
        try:
            ipaddress.IPv6Network(value, strict=False)
        except ValueError:
            return None
        raise Unsupported(f"IPv6 CIDR value {value}", pos)
    return None


def is_cidr(value: str) -> bool:
    try:
        return ipv4_subnet(value, 0) is not None
    except Unsupported:
        return True


def in_subnet_sql(x: str, network: int, prefix: int) -> str:
    """SQL: the text x is an IPv4 address inside network/prefix (never NULL for a non-NULL x)."""
    as_int = ("list_reduce(list_transform(string_split(" + x + ", '.'), lambda p: CAST(p AS BIGINT)), "
              "lambda a, b: a * 256 + b)")
    shift = 32 - prefix
    inside = f"({as_int} // {1 << shift}) = {network >> shift}"
    return f"(CASE WHEN regexp_full_match({x}, {lit(IPV4_RE)}) THEN {inside} ELSE FALSE END)"
