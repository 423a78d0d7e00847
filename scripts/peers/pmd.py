"""permessage-deflate header parsing and the RFC 7692 response rules that the
interop drivers check wsx against (both roles). Standard library only."""
import re

TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
PARAMS = (
    "server_no_context_takeover",
    "client_no_context_takeover",
    "server_max_window_bits",
    "client_max_window_bits",
)


def parse_extensions(values):
    """Parse Sec-WebSocket-Extensions header values (a list: one per header
    line) into [(name, [(param, value-or-None), ...]), ...]. Lenient about
    whitespace and null elements; raises ValueError on garbage."""
    out = []
    for value in values:
        for element in split_outside_quotes(value, ","):
            element = element.strip()
            if not element:
                continue
            parts = split_outside_quotes(element, ";")
            name = parts[0].strip()
            if not TOKEN.fullmatch(name):
                raise ValueError(f"bad extension name {name!r}")
            params = []
            for p in parts[1:]:
                p = p.strip()
                if not p:
                    raise ValueError(f"empty parameter in {element!r}")
                if "=" in p:
                    k, v = p.split("=", 1)
                    k, v = k.strip(), v.strip()
                    if v.startswith('"'):
                        if len(v) < 2 or not v.endswith('"'):
                            raise ValueError(f"bad quoted value in {element!r}")
                        v = re.sub(r"\\(.)", r"\1", v[1:-1])
                else:
                    k, v = p, None
                if not TOKEN.fullmatch(k) or (v is not None and not TOKEN.fullmatch(v)):
                    raise ValueError(f"bad parameter {p!r}")
                params.append((k, v))
            out.append((name, params))
    return out


def split_outside_quotes(s, sep):
    parts, cur, q, esc = [], [], False, False
    for ch in s:
        if esc:
            cur.append(ch)
            esc = False
        elif ch == "\\" and q:
            cur.append(ch)
            esc = True
        elif ch == '"':
            cur.append(ch)
            q = not q
        elif ch == sep and not q:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


class Offer:
    """One permessage-deflate offer (client side) or set of response params.
    snct/cnct: bool; smwb: int|None; cmwb: int|True|None (True = bare)."""

    def __init__(self, snct=False, cnct=False, smwb=None, cmwb=None):
        self.snct, self.cnct, self.smwb, self.cmwb = snct, cnct, smwb, cmwb

    def header(self):
        s = "permessage-deflate"
        if self.snct:
            s += "; server_no_context_takeover"
        if self.cnct:
            s += "; client_no_context_takeover"
        if self.smwb is not None:
            s += f"; server_max_window_bits={self.smwb}"
        if self.cmwb is True:
            s += "; client_max_window_bits"
        elif self.cmwb is not None:
            s += f"; client_max_window_bits={self.cmwb}"
        return s

    __str__ = header

    @classmethod
    def from_params(cls, params):
        """Strictly interpret params; raises ValueError like a strict peer."""
        o, seen = cls(), set()
        for k, v in params:
            if k in seen:
                raise ValueError(f"duplicate parameter {k}")
            seen.add(k)
            if k in ("server_no_context_takeover", "client_no_context_takeover"):
                if v is not None:
                    raise ValueError(f"{k} takes no value")
                setattr(o, "snct" if k[0] == "s" else "cnct", True)
            elif k == "server_max_window_bits":
                if v is None or not re.fullmatch(r"[1-9][0-9]?", v) or not 8 <= int(v) <= 15:
                    raise ValueError(f"bad {k}={v}")
                o.smwb = int(v)
            elif k == "client_max_window_bits":
                if v is None:
                    o.cmwb = True
                elif not re.fullmatch(r"[1-9][0-9]?", v) or not 8 <= int(v) <= 15:
                    raise ValueError(f"bad {k}={v}")
                else:
                    o.cmwb = int(v)
            else:
                raise ValueError(f"unknown parameter {k}")
        return o


class Policy:
    """wsx serve's deflate flags."""

    def __init__(self, enabled=True, smwb=None, cmwb=None, snct=False, cnct=False):
        self.enabled, self.smwb, self.cmwb, self.snct, self.cnct = enabled, smwb, cmwb, snct, cnct

    def flags(self):
        f = []
        if not self.enabled:
            f.append("--no-deflate")
        if self.smwb is not None:
            f += ["--server-max-window-bits", str(self.smwb)]
        if self.cmwb is not None:
            f += ["--client-max-window-bits", str(self.cmwb)]
        if self.snct:
            f.append("--server-no-context-takeover")
        if self.cnct:
            f.append("--client-no-context-takeover")
        return f


def check_server_response(offers, policy, response_values):
    """Check the Sec-WebSocket-Extensions response of a server with `policy`
    to `offers` (list of raw offer strings, in order). Returns (errors,
    accepted-Offer-or-None, index of the accepted offer)."""
    errs = []
    try:
        resp = parse_extensions(response_values)
    except ValueError as e:
        return [f"unparsable response header {response_values!r}: {e}"], None, None
    pmd = [r for r in resp if r[0].lower() == "permessage-deflate"]
    others = [r for r in resp if r[0].lower() != "permessage-deflate"]
    if others:
        errs.append(f"unexpected extensions in response: {others}")
    # which offers are valid permessage-deflate offers?
    parsed = []
    for raw in offers:
        try:
            for name, params in parse_extensions([raw]):
                if name.lower() != "permessage-deflate":
                    continue
                try:
                    parsed.append(Offer.from_params(params))
                except ValueError:
                    parsed.append(None)  # server must decline this one
        except ValueError:
            pass
    acceptable = [(i, o) for i, o in enumerate(parsed) if o is not None]
    if len(pmd) > 1:
        return errs + [f"permessage-deflate accepted {len(pmd)} times"], None, None
    if not pmd:
        if policy.enabled and acceptable:
            # declining is only expected for offers wsx cannot honour: window 8
            if all(o.smwb == 8 for _, o in acceptable):
                return errs, None, None
            errs.append("server declined permessage-deflate although an acceptable offer "
                        f"was made: {acceptable[0][1]}")
        return errs, None, None
    if not policy.enabled:
        errs.append("permessage-deflate accepted although wsx serve ran with --no-deflate")
    try:
        r = Offer.from_params(pmd[0][1])
    except ValueError as e:
        return errs + [f"invalid response parameters: {e}"], None, None
    # The accepted offer: the first one whose rules the response satisfies, and
    # it must be the first offer that wsx could accept (skipping smwb=8 offers
    # that it may decline).
    chosen = None
    for i, o in acceptable:
        e = response_rule_errors(o, policy, r)
        if not e:
            chosen = (i, o)
            break
        if o.smwb == 8:
            continue  # allowed to be declined
        errs.append(f"response {r} does not fit the first acceptable offer {o}: {'; '.join(e)}")
        return errs, r, i
    if chosen is None:
        errs.append(f"response {r} fits none of the offers {offers}")
        return errs, r, None
    return errs, r, chosen[0]


def response_rule_errors(o, policy, r):
    e = []
    if o.snct and not r.snct:
        e.append("server_no_context_takeover was requested but is missing")
    if policy.snct and not r.snct:
        e.append("--server-no-context-takeover but response lacks it")
    if o.smwb is not None:
        if r.smwb is None or r.smwb > o.smwb:
            e.append(f"server_max_window_bits={o.smwb} requested, response has {r.smwb}")
    if policy.smwb is not None and (r.smwb is None or r.smwb > policy.smwb):
        e.append(f"--server-max-window-bits {policy.smwb} but response has {r.smwb}")
    if policy.cnct and not r.cnct:
        e.append("--client-no-context-takeover but response lacks client_no_context_takeover")
    if r.cmwb is True:
        e.append("client_max_window_bits without a value in a response")
    elif r.cmwb is not None:
        if o.cmwb is None:
            e.append("client_max_window_bits in response but not offered")
        elif o.cmwb is not True and r.cmwb > o.cmwb:
            e.append(f"client_max_window_bits={r.cmwb} > offered {o.cmwb}")
    if policy.cmwb is not None and o.cmwb is not None:
        lim = policy.cmwb if o.cmwb is True else min(policy.cmwb, o.cmwb)
        if r.cmwb is None or r.cmwb > lim:
            e.append(f"--client-max-window-bits {policy.cmwb}: expected client_max_window_bits<={lim}, got {r.cmwb}")
    return e
