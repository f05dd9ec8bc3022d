#!/usr/bin/python3
"""Checks responses of packet_logs against its contract, openapi.yaml.

Used by the integration tests:

    import openapi_check
    spec = openapi_check.load("openapi.yaml")
    openapi_check.validate_response(spec, "/packet_logs", "GET", 200,
                                    "application/json", body)
    openapi_check.validate_stream_message(spec, text)   # a WebSocket message
    openapi_check.validate_schema(spec, "Record", record)

Each raises AssertionError saying what does not match. JSON bodies are
validated with JSON Schema 2020-12 (OpenAPI 3.1's dialect); `$ref`s resolve
within the document. An `application/x-ndjson` body is validated line by
line against its media type's schema, that of one line. Other bodies: the
content type must match (with the parameters of the media type's
`x-content-type`), and the metric names of `x-required-metrics` must be
present.

Run as a program, it checks the contract itself against real records: every
record of the golden corpus (tests/corpus/golden/*.jsonl of the
project's root), given the keys the reference encoder does not make (`Seq`),
must validate against components/schemas/Record, and a few broken records
must not.

Needs python3-jsonschema and python3-yaml (Debian's packages for
/usr/bin/python3).
"""
import copy
import glob
import json
import os
import re
import sys

try:
    import jsonschema
    import yaml
except ImportError as e:  # pragma: no cover - a setup problem, said plainly
    sys.exit(f"openapi_check: {e}: apt-get install python3-jsonschema python3-yaml")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
DEFAULT_SPEC = os.path.join(ROOT, "openapi.yaml")
DEFAULT_GOLDEN = os.path.join(ROOT, "tests", "corpus", "golden")
STREAM_MESSAGE = "#/paths/~1packet_logs~1stream/get/x-websocket-messages/schema"
MAX_SHOWN = 5  # errors shown per failed validation


class _Yaml(yaml.SafeLoader):
    """SafeLoader that keeps timestamps and dates as strings, as JSON would."""


_Yaml.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}


def load(path=DEFAULT_SPEC):
    """The OpenAPI document at path, as plain JSON-like data."""
    with open(path, encoding="utf-8") as f:
        spec = yaml.load(f, Loader=_Yaml)
    if not isinstance(spec, dict) or not str(spec.get("openapi", "")).startswith("3.1"):
        raise AssertionError(f"{path}: not an OpenAPI 3.1 document")
    return spec


# ---------------------------------------------------------------- pointers


def _escape(token):
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer(*tokens):
    """A JSON pointer fragment ("#/a/b~1c") of the given tokens."""
    return "#" + "".join("/" + _escape(t) for t in tokens)


def resolve(spec, ref):
    """The value at a local reference "#/..." of spec."""
    if not ref.startswith("#"):
        raise AssertionError(f"only local $refs are supported, got {ref!r}")
    node = spec
    for token in ref[1:].split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(token)]
        elif isinstance(node, dict) and token in node:
            node = node[token]
        else:
            raise AssertionError(f"$ref {ref!r} does not resolve (at {token!r})")
    return node


def _deref(spec, obj, where=None):
    """obj with its (chain of) $ref followed: for response/parameter objects.
    With where (obj's pointer), returns (obj, the pointer of what it is)."""
    seen = set()
    while isinstance(obj, dict) and "$ref" in obj:
        ref = obj["$ref"]
        if ref in seen:
            raise AssertionError(f"$ref cycle at {ref!r}")
        seen.add(ref)
        obj, where = resolve(spec, ref), ref
    return obj if where is None else (obj, where)


# ---------------------------------------------------------------- schemas

_validators = {}


def _validator(spec, ref):
    """A Draft 2020-12 validator of the schema at ref, resolving $refs in spec.

    The root schema is the whole document plus a "$ref" to the schema: the
    document's own keys are no JSON Schema keywords, so they are ignored,
    and every "#/components/..." resolves against it. This works alike with
    the RefResolver of older jsonschema and the `referencing` of newer."""
    key = (id(spec), ref)
    v = _validators.get(key)
    if v is None:
        resolve(spec, ref)  # fail early and clearly on a bad pointer
        root = dict(spec)
        root["$ref"] = ref
        cls = jsonschema.Draft202012Validator
        v = cls(root, format_checker=cls.FORMAT_CHECKER)
        _validators[key] = (spec, v)  # keep spec alive: its id stays unique
    else:
        v = v[1]
    return v


def _path_of(error):
    out = "$"
    for p in error.absolute_path:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def _short(value, limit=100):
    text = json.dumps(value, sort_keys=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _message(error, limit=300):
    m = error.message
    return m if len(m) <= limit else m[: limit - 3] + "..."


def _check(spec, ref, instance, what):
    errors = sorted(_validator(spec, ref).iter_errors(instance),
                    key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if not errors:
        return
    lines = [f"{what} does not match {ref} ({len(errors)} error(s)):"]
    for e in errors[:MAX_SHOWN]:
        if e.context:  # oneOf/anyOf: the message would repeat the instance
            lines.append(f"  {_path_of(e)}: not valid under any of its {e.validator} schemas; "
                         "the most specific errors:")
            # the deepest errors say most (as jsonschema's best_match)
            for sub in sorted(e.context, key=lambda s: -len(list(s.absolute_path)))[:3]:
                lines.append(f"    - {_path_of(sub)}: {_message(sub)}")
        else:
            lines.append(f"  {_path_of(e)}: {_message(e)}")
    if len(errors) > MAX_SHOWN:
        lines.append(f"  ... and {len(errors) - MAX_SHOWN} more")
    raise AssertionError("\n".join(lines))


def validate_schema(spec, name, instance, what=None):
    """Validates instance against components/schemas/<name>."""
    _check(spec, pointer("components", "schemas", name), instance, what or name)


def validate_stream_message(spec, text):
    """Validates one text message of the WebSocket stream (str or bytes)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    try:
        message = json.loads(text)
    except ValueError as e:
        raise AssertionError(f"stream message is not JSON ({e}): {text[:200]!r}") from None
    _check(spec, STREAM_MESSAGE, message, "stream message")
    return message


# ---------------------------------------------------------------- responses


def _media(content_type):
    """("type/subtype", {param: value}) of a Content-Type value, lowercased."""
    parts = [p.strip() for p in (content_type or "").split(";")]
    params = {}
    for p in parts[1:]:
        if "=" in p:
            k, v = p.split("=", 1)
            params[k.strip().lower()] = v.strip().strip('"').lower()
    return parts[0].lower(), params


_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _find_operation(spec, path, method, status):
    path = path.split("?", 1)[0].split("#", 1)[0]
    paths = spec.get("paths") or {}
    item = paths.get(path)
    template = path
    if item is None:
        for t, candidate in paths.items():
            rx = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(t)) + "$"
            if re.match(rx, path):
                item, template = candidate, t
                break
    if item is None:
        raise AssertionError(f"{path}: no such path in the contract (have {sorted(paths)})")
    item = _deref(spec, item)
    m = method.lower()
    head_as_get = m == "head" and "head" not in item
    if head_as_get:
        m = "get"
    if m not in item and int(status) == 405:
        # A method the contract does not have: its answer is the 405 that
        # the path's operations declare (with Allow).
        for other in _METHODS:
            if "405" in ((item.get(other) or {}).get("responses") or {}):
                m = other
                break
    op = item.get(m)
    if op is None:
        ops = sorted(k.upper() for k in item if k in _METHODS)
        raise AssertionError(f"{method.upper()} {path}: not in the contract (have {ops})")
    return template, m, op, head_as_get


def _find_response(spec, op, op_pointer, status, where):
    """The response object for status, and its pointer (past any $ref)."""
    responses = op.get("responses") or {}
    code = str(int(status))
    for key in (code, code[0] + "XX", code[0] + "xx", "default"):
        if key in responses:
            return _deref(spec, responses[key], op_pointer + "/responses/" + _escape(key))
    raise AssertionError(f"{where}: status {code} is not in the contract "
                         f"(have {', '.join(sorted(responses))})")


def _check_headers(response, headers, where):
    if headers is None:
        return
    have = {k.lower(): v for k, v in dict(headers).items()}
    for name, h in (response.get("headers") or {}).items():
        value = have.get(name.lower())
        if value is None:
            if h.get("required"):
                raise AssertionError(f"{where}: header {name} is required and missing")
            continue
        schema = h.get("schema") or {}
        if "const" in schema and value != schema["const"]:
            raise AssertionError(f"{where}: header {name} is {value!r}, "
                                 f"expected {schema['const']!r}")


def _json_lines(body, where):
    text = body.decode("utf-8")
    if text and not text.endswith("\n"):
        raise AssertionError(f"{where}: NDJSON body does not end with a newline")
    out = []
    for n, line in enumerate(text.split("\n")[:-1] if text else [], 1):
        if not line.strip():
            raise AssertionError(f"{where}: NDJSON line {n} is empty")
        try:
            out.append((n, json.loads(line)))
        except ValueError as e:
            raise AssertionError(f"{where}: NDJSON line {n} is not JSON ({e}): "
                                 f"{line[:200]!r}") from None
    return out


def validate_response(spec, path, method, status, content_type, body_bytes, headers=None):
    """Checks one HTTP response against the contract; AssertionError if not.

    path may carry a query string (ignored). HEAD is checked as GET (unless
    the contract has its own head operation), with an empty body. headers,
    when given (a dict or list of pairs), are checked against the
    response's declared headers (required ones present, consts equal).
    Returns the decoded JSON body (a list of lines for NDJSON) or None."""
    if isinstance(body_bytes, str):
        body_bytes = body_bytes.encode("utf-8")
    body_bytes = body_bytes or b""
    template, m, op, head = _find_operation(spec, path, method, status)
    where = f"{method.upper()} {path.split('?', 1)[0]} {int(status)}"
    response, response_pointer = _find_response(spec, op, pointer("paths", template, m),
                                                 status, where)
    _check_headers(response, headers, where)

    content = response.get("content") or {}
    if not content:
        if body_bytes and not head:
            raise AssertionError(f"{where}: the contract declares no body, got "
                                 f"{len(body_bytes)} bytes")
        return None

    actual, actual_params = _media(content_type)
    chosen = None
    for declared, media in content.items():
        base, params = _media(declared)
        if base == actual or (base.endswith("/*") and actual.startswith(base[:-1])) \
                or base == "*/*":
            chosen = (declared, media or {}, params)
            break
    if chosen is None:
        raise AssertionError(f"{where}: content type {content_type!r} is not in the contract "
                             f"(have {', '.join(content)})")
    declared, media, params = chosen
    if media.get("x-content-type"):
        params = {**params, **_media(media["x-content-type"])[1]}
    for k, v in params.items():
        if actual_params.get(k) != v:
            raise AssertionError(f"{where}: content type {content_type!r} lacks {k}={v} "
                                 f"(the contract's {declared})")
    if head:
        if body_bytes:
            raise AssertionError(f"{where}: a HEAD response has a body ({len(body_bytes)} bytes)")
        return None

    ref = response_pointer + "/content/" + _escape(declared) + "/schema"
    if "schema" not in media:
        return None
    if actual == "application/x-ndjson":
        lines = _json_lines(body_bytes, where)
        for n, value in lines:
            _check(spec, ref, value, f"{where} NDJSON line {n}")
        return [value for _, value in lines]
    if actual == "application/json" or actual.endswith("+json"):
        try:
            value = json.loads(body_bytes.decode("utf-8"))
        except ValueError as e:
            raise AssertionError(f"{where}: body is not JSON ({e}): "
                                 f"{body_bytes[:200]!r}") from None
        _check(spec, ref, value, f"{where} body")
        return value
    if actual.startswith("text/") or actual.endswith("yaml"):
        try:
            text = body_bytes.decode("utf-8")
        except UnicodeDecodeError as e:
            raise AssertionError(f"{where}: body is not UTF-8 text ({e})") from None
        names = {line.split("{", 1)[0].split(" ", 1)[0]
                 for line in text.splitlines() if line and not line.startswith("#")}
        missing = [n for n in media.get("x-required-metrics") or [] if n not in names]
        if missing:
            raise AssertionError(f"{where}: metrics missing: {', '.join(missing)}")
    return None


# ---------------------------------------------------------------- the program


def check_contract(spec):
    """What redocly's operation-2xx-response rule would say, with 101 allowed
    for the WebSocket upgrade; plus: every $ref resolves. Returns problems."""
    problems = []
    for path, item in (spec.get("paths") or {}).items():
        for m, op in _deref(spec, item).items():
            if m not in _METHODS:
                continue
            codes = [str(c) for c in op.get("responses") or {}]
            if not any(c.startswith("2") or c == "101" for c in codes):
                problems.append(f"{m.upper()} {path}: no 2XX (or 101) response")

    def walk(node, where):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                try:
                    resolve(spec, ref)
                except AssertionError as e:
                    problems.append(f"{where}: {e}")
            for k, v in node.items():
                walk(v, f"{where}/{_escape(k)}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}/{i}")

    walk(spec, "#")
    return problems


def _mutations(record):
    """Broken copies of a record that the Record schema must reject."""
    out = []

    def broken(label, change):
        r = copy.deepcopy(record)
        try:
            change(r)
        except (KeyError, IndexError, TypeError):
            return
        out.append((label, r))

    broken("no Seq", lambda r: r.pop("Seq"))
    broken("Seq 0", lambda r: r.update(Seq=0))
    broken("Timestamp not RFC 3339", lambda r: r.update(Timestamp="2025-07-08 17:59:32"))
    broken("Prefix a number", lambda r: r.update(Prefix=1))
    broken("IP.SrcIP not IPv4", lambda r: r["IP"].update(SrcIP="2001:db8::1"))
    broken("IP.TTL out of range", lambda r: r["IP"].update(TTL=256))
    broken("IP.Contents not base64", lambda r: r["IP"].update(Contents="not base64!"))
    broken("IP.Options a string", lambda r: r["IP"].update(Options="x"))
    broken("IPv6 missing HopByHop", lambda r: r["IPv6"].pop("HopByHop"))
    broken("TCP.SYN a number", lambda r: r["TCP"].update(SYN=1))
    broken("TCP.Options null", lambda r: r["TCP"].update(Options=None))
    broken("UDP.SrcPort > 65535", lambda r: r["UDP"].update(SrcPort=70000))
    broken("DNS.Questions[0].Name a number",
           lambda r: r["DNS"]["Questions"][0].update(Name=5))
    broken("DHCP.Options[0] missing Data", lambda r: r["DHCP"]["Options"][0].pop("Data"))
    broken("Ethernet.SrcMAC uppercase", lambda r: r["Ethernet"].update(SrcMAC="AA:BB:CC:DD:EE:FF"))
    broken("Error empty", lambda r: r.update(Error=""))
    return out


def main(argv):
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", default=DEFAULT_SPEC, help="the OpenAPI document")
    ap.add_argument("--golden", default=DEFAULT_GOLDEN, help="directory of golden *.jsonl")
    ap.add_argument("records", nargs="*",
                    help="JSON-lines files of records to check instead of the golden corpus "
                         "(e.g. the output of `packet_logs decode`)")
    args = ap.parse_args(argv)

    spec = load(args.spec)
    problems = check_contract(spec)
    for p in problems:
        print(f"contract: {p}")

    files = args.records or sorted(glob.glob(os.path.join(args.golden, "*.jsonl")))
    if not files:
        print(f"no records to check (looked in {args.golden})")
        return 1
    checked = skipped = failed = 0
    layers = {}
    samples = {}
    for name in files:
        with open(name, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                record = json.loads(line)
                if set(record) == {"error"}:  # gopacket failed: no record
                    skipped += 1
                    continue
                record.setdefault("Seq", 1)  # ours; the reference has none
                checked += 1
                for k, v in record.items():
                    if isinstance(v, dict):
                        layers[k] = layers.get(k, 0) + 1
                        samples.setdefault(k, record)
                try:
                    validate_schema(spec, "Record", record, f"{os.path.basename(name)}:{n}")
                except AssertionError as e:
                    failed += 1
                    if failed <= 10:
                        print(e)
    print(f"records: {checked} checked, {checked - failed} valid, {failed} invalid; "
          f"{skipped} error lines skipped; {len(files)} files")
    print("layers: " + ", ".join(f"{k} {v}" for k, v in sorted(layers.items())))

    # The schema must also say no: broken copies of real records.
    rejected = total = 0
    for layer, record in sorted(samples.items()):  # a record of each layer
        for label, bad in _mutations(record):
            total += 1
            try:
                validate_schema(spec, "Record", bad)
                print(f"mutation accepted (schema too loose): {label} of a {layer} record")
            except AssertionError:
                rejected += 1
    print(f"mutations: {rejected}/{total} rejected")

    # And the stream's messages: a record, or {"Dropped": N}.
    stream_ok = True
    for text, good in ((json.dumps(next(iter(samples.values()))), True),
                       ('{"Dropped": 3}', True), ('{"Dropped": 0}', False),
                       ('{"Dropped": 3, "x": 1}', False)):
        try:
            validate_stream_message(spec, text)
            stream_ok &= good
        except AssertionError:
            stream_ok &= not good
    print(f"stream messages: {'ok' if stream_ok else 'WRONG'}")

    return 1 if problems or failed or rejected != total or not stream_ok else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
