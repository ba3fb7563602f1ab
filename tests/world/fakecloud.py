#!/usr/bin/python3
"""A fake Hetzner Cloud API for flipper's tests (stdlib only, loopback only).

It follows /work/shared/hetzner-api.md (cited below as "api.md §N"); where
that document marks a fact [unverified], the behaviour is a switch in
SETTINGS so a test can pick either side.

    fakecloud.py --listen 127.0.0.1:0 --token TOKEN [--ready-file PATH]

Binds, writes the real "host:port" to stdout (one line) and to the ready file
(tmp + rename, so a reader never sees half a line), and serves until SIGTERM.

Two path spaces:

  /v1/...        the fake API: Bearer auth, rate limit, fault rules, log.
  /_control/...  test control, no auth, never rate limited or logged.
                 See ControlAPI below for the endpoints.

State is kept in one object guarded by one lock. Actions do not run on a
timer thread: every request first "advances" running actions (time based or
poll-count based), which keeps the fake deterministic and free of threads
that could outlive a test.
"""

import argparse
import copy
import ipaddress
import json
import math
import os
import re
import secrets
import signal
import socket
import sys
import threading
import time
import traceback
import urllib.parse
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# --------------------------------------------------------------------------
# Static reference data
# --------------------------------------------------------------------------

# api.md §2.1. hil and sin coordinates are "not checked" there; these are the
# cities' public coordinates.
LOCATIONS = {
    "fsn1": {"id": 1, "name": "fsn1", "description": "Falkenstein DC Park 1",
             "country": "DE", "city": "Falkenstein",
             "latitude": 50.47612, "longitude": 12.370071,
             "network_zone": "eu-central"},
    "nbg1": {"id": 2, "name": "nbg1", "description": "Nuremberg DC Park 1",
             "country": "DE", "city": "Nuremberg",
             "latitude": 49.452102, "longitude": 11.076665,
             "network_zone": "eu-central"},
    "hel1": {"id": 3, "name": "hel1", "description": "Helsinki DC Park 1",
             "country": "FI", "city": "Helsinki",
             "latitude": 60.169855, "longitude": 24.938379,
             "network_zone": "eu-central"},
    "ash": {"id": 4, "name": "ash", "description": "Ashburn, VA",
            "country": "US", "city": "Ashburn, VA",
            "latitude": 39.045821, "longitude": -77.487073,
            "network_zone": "us-east"},
    "hil": {"id": 5, "name": "hil", "description": "Hillsboro, OR",
            "country": "US", "city": "Hillsboro, OR",
            "latitude": 45.54, "longitude": -122.95,
            "network_zone": "us-west"},
    "sin": {"id": 6, "name": "sin", "description": "Singapore",
            "country": "SG", "city": "Singapore",
            "latitude": 1.283333, "longitude": 103.833333,
            "network_zone": "ap-southeast"},
}

# The legacy datacenter each location used to be reached through (only sent
# when the legacy_datacenter switch is on; api.md §0.1).
LEGACY_DATACENTERS = {
    "fsn1": (4, "fsn1-dc14", "Falkenstein 1 virtual DC 14"),
    "nbg1": (2, "nbg1-dc3", "Nuremberg 1 virtual DC 3"),
    "hel1": (3, "hel1-dc2", "Helsinki 1 virtual DC 2"),
    "ash": (5, "ash-dc1", "Ashburn virtual DC 1"),
    "hil": (6, "hil-dc1", "Hillsboro virtual DC 1"),
    "sin": (7, "sin-dc1", "Singapore virtual DC 1"),
}

_PRICE = {
    "price_hourly": {"net": "0.0056000000", "gross": "0.0066640000000000"},
    "price_monthly": {"net": "3.4900000000", "gross": "4.1531000000000000"},
    "included_traffic": 21990232555520,
    "price_per_tb_traffic": {"net": "1.0000000000",
                             "gross": "1.1900000000000000"},
}

# Modeled on hetzner-fixtures/servers_page1.json.
SERVER_TYPE = {
    "id": 104, "name": "cx23", "description": "CX23",
    "category": "cost_optimized", "cores": 2, "memory": 4.0, "disk": 40,
    "deprecated": False,
    "prices": [dict(location=loc, **_PRICE) for loc in LOCATIONS],
    "storage_type": "local", "cpu_type": "shared", "architecture": "x86",
    "deprecation": None,
    "locations": [{"id": l["id"], "name": l["name"], "deprecation": None,
                   "available": True, "recommended": l["name"] == "fsn1"}
                  for l in LOCATIONS.values()],
}

IMAGE = {
    "id": 161547269, "type": "system", "status": "available",
    "name": "ubuntu-24.04", "description": "Ubuntu 24.04",
    "image_size": None, "disk_size": 5, "created": "2024-04-25T08:26:34Z",
    "created_from": None, "bound_to": None, "os_flavor": "ubuntu",
    "os_version": "24.04", "rapid_deploy": True,
    "protection": {"delete": False}, "deprecated": None, "deleted": None,
    "labels": {}, "architecture": "x86",
}

SERVER_STATUSES = ("running", "initializing", "starting", "stopping", "off",
                   "deleting", "migrating", "rebuilding", "unknown")

# Sort fields per resource (api.md §2.1, §2.2; actions per the spec).
SORT_FIELDS = {
    "servers": ("id", "name", "created"),
    "floating_ips": ("id", "created"),
    "actions": ("id", "command", "status", "started", "finished"),
}

# Auto-assigned IDs start above 2^31 (floating IPs) and above 2^32 (servers,
# primary IPs, actions) so a client that squeezes an id through `int` or
# `uint32_t` shows it at once (api.md §0.12).
FIP_ID_BASE = 3000000001
SERVER_ID_BASE = 5000000001
PRIMARY_IP_ID_BASE = 6000000001
ACTION_ID_BASE = 9000000001

# Base for "created" timestamps of resources that do not bring their own:
# the n-th resource added gets BASE + 37 s * n, so sorting by created is
# meaningful and differs from sorting by id only when a test wants it to.
CREATED_BASE = 1770800561  # 2026-02-11T09:02:41Z

DEFAULT_SETTINGS = {
    "action_seconds": 0.5,      # how long an action stays "running"
    "action_polls": None,       # if set: number of reads that still see "running"
    "action_error": None,       # e.g. {"code": "action_failed", "message": "Action failed"}
    "lock_grace_seconds": 0.0,  # resources stay locked this long after the action
    "rate_capacity": 3600,
    "rate_refill_per_sec": 1.0,
    "legacy_datacenter": False,  # also send server.datacenter (removed 2026-07-01)
    "location_field": True,      # send top-level server.location
    "cross_zone": "accept",      # "accept" | "reject" (api.md §7, unverified)
    # Assigning a floating IP that is on ANOTHER server: the spec's
    # floating_ip_assigned text is ambiguous (api.md §4.1); default accepts
    # direct reassignment, "reject" answers 422 floating_ip_assigned.
    "reassign": "accept",
    "token": None,               # set from --token
    "readonly_token": None,
    # api.md §5.2: token_readonly's HTTP status is not documented ("401? /
    # 403?"; one third-party fake uses 401). We default to 401 as that fake
    # does; a test can set 403. Clients must branch on error.code anyway.
    "readonly_status": 401,
}


def iso(ts):
    """RFC 3339 with the "Z" suffix, as the live API sends (api.md §2.1)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def parse_iso(s):
    """Seconds since the epoch for "...Z" or "...+00:00" (for sorting only)."""
    s = s.replace("Z", "+00:00")
    return datetime.fromisoformat(s).timestamp()


class ApiError(Exception):
    """An error answered in the Hetzner shape (api.md §5.1)."""

    def __init__(self, status, code, message, details=None, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}

    def body(self):
        return {"error": {"code": self.code, "message": self.message,
                          "details": self.details}}


def invalid_field(name, message):
    return ApiError(422, "invalid_input", "invalid input in field '%s'" % name,
                    {"fields": [{"name": name, "messages": [message]}]})


# --------------------------------------------------------------------------
# Label selectors (api.md §3)
# --------------------------------------------------------------------------

# Label key: optional DNS-subdomain prefix and "/", then a name (api.md §3).
_KEY_NAME = r"[A-Za-z0-9](?:[-_.A-Za-z0-9]{0,61}[A-Za-z0-9])?"
_KEY_RE = re.compile(r"(?:[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?/)?" + _KEY_NAME)
_VALUE_RE = re.compile(r"(?:[A-Za-z0-9](?:[-_.A-Za-z0-9]{0,61}[A-Za-z0-9])?)?")
_SET_OP_RE = re.compile(r"(notin|in)(?=[\s(])")
_IDENT_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                   "0123456789-_./")


class SelectorError(Exception):
    pass


def parse_label_selector(text):
    """Parse a selector into a list of (op, key, values) requirements.

    op is one of "eq", "ne", "exists", "absent", "in", "notin". A comma
    separates requirements except inside parentheses, where it separates
    values. Whitespace around tokens is ignored. Positions in error messages
    are 0-based character offsets, like the real API's messages.
    """
    reqs = []
    pos = 0
    n = len(text)

    def skip_ws(p):
        while p < n and text[p].isspace():
            p += 1
        return p

    def read_ident(p, what):
        start = p
        while p < n and text[p] in _IDENT_CHARS:
            p += 1
        word = text[start:p]
        if not word:
            raise SelectorError("invalid identifier at position %d" % start)
        if what == "key" and not _KEY_RE.fullmatch(word):
            raise SelectorError("invalid identifier at position %d" % start)
        return word, p

    def read_value(p):
        start = p
        while p < n and text[p] in _IDENT_CHARS and text[p] != "/":
            p += 1
        word = text[start:p]
        if not _VALUE_RE.fullmatch(word):
            raise SelectorError("invalid value at position %d" % start)
        return word, p

    if not text.strip():
        return reqs
    while True:
        pos = skip_ws(pos)
        if pos < n and text[pos] == "!":
            key, pos = read_ident(skip_ws(pos + 1), "key")
            reqs.append(("absent", key, None))
        else:
            key, pos = read_ident(pos, "key")
            after_key = pos
            pos = skip_ws(pos)
            if text.startswith("==", pos) or text.startswith("!=", pos):
                op = "eq" if text[pos] == "=" else "ne"
                value, pos = read_value(skip_ws(pos + 2))
                reqs.append((op, key, (value,)))
            elif text.startswith("=", pos):
                value, pos = read_value(skip_ws(pos + 1))
                reqs.append(("eq", key, (value,)))
            else:
                # "in"/"notin" must be separated from the key by whitespace
                # and followed by whitespace or "(".
                m = _SET_OP_RE.match(text, pos) if pos > after_key else None
                if m is None:
                    pos = after_key
                    reqs.append(("exists", key, None))
                else:
                    pos = skip_ws(m.end())
                    if pos >= n or text[pos] != "(":
                        raise SelectorError("expected '(' at pos %d" % pos)
                    values = []
                    pos += 1
                    while True:
                        value, pos = read_value(skip_ws(pos))
                        values.append(value)
                        pos = skip_ws(pos)
                        if pos < n and text[pos] == ",":
                            pos += 1
                        elif pos < n and text[pos] == ")":
                            pos += 1
                            break
                        else:
                            raise SelectorError("expected ',' or ')' at pos %d"
                                                % pos)
                    if values == [""]:
                        raise SelectorError("empty value list at pos %d" % pos)
                    reqs.append((m.group(1), key, tuple(values)))
        pos = skip_ws(pos)
        if pos >= n:
            return reqs
        if text[pos] != ",":
            raise SelectorError("expected comma at pos %d" % pos)
        pos += 1


def selector_matches(reqs, labels):
    for op, key, values in reqs:
        present = key in labels
        value = labels.get(key)
        if op == "eq" and not (present and value == values[0]):
            return False
        if op == "ne" and present and value == values[0]:
            return False
        if op == "exists" and not present:
            return False
        if op == "absent" and present:
            return False
        if op == "in" and not (present and value in values):
            return False
        if op == "notin" and present and value in values:
            return False
    return True


# --------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------

class TokenBucket:
    """api.md §6: capacity C, refill r per second, one token per request."""

    def __init__(self, capacity, refill):
        self.capacity = float(capacity)
        self.refill = float(refill)
        self.tokens = float(capacity)
        self.stamp = time.monotonic()

    def take(self):
        """Returns (allowed, headers) for one request."""
        now = time.monotonic()
        self.tokens = min(self.capacity,
                          self.tokens + (now - self.stamp) * self.refill)
        self.stamp = now
        allowed = self.tokens >= 1
        if allowed:
            self.tokens -= 1
        missing = self.capacity - self.tokens
        if self.refill > 0:
            reset = int(time.time()) + math.ceil(missing / self.refill)
        else:
            reset = int(time.time()) + 3600
        headers = {
            "RateLimit-Limit": str(int(self.capacity)),
            "RateLimit-Remaining": str(max(0, math.floor(self.tokens))),
            "RateLimit-Reset": str(reset),
        }
        return allowed, headers


class World:
    """Everything the fake knows. All methods expect self.lock to be held."""

    def __init__(self, token):
        self.lock = threading.RLock()
        self.initial_token = token
        self.next_action_id = ACTION_ID_BASE
        self.next_request_seq = 1
        self.reset()

    def reset(self):
        self.settings = dict(DEFAULT_SETTINGS, token=self.initial_token)
        self.servers = {}       # id -> spec (see add_server)
        self.fips = {}          # id -> spec (see add_fip)
        self.actions = {}       # id -> internal action dict
        self.faults = []        # list of rule dicts (with "left")
        # hold name -> Event set when released; a reset lets everything go.
        for ev in getattr(self, "holds", {}).values():
            ev.set()
        self.holds = {}
        self.log = []           # request log entries
        self.created_counter = 0
        self.next_server_id = SERVER_ID_BASE
        self.next_fip_id = FIP_ID_BASE
        self.next_primary_ip_id = PRIMARY_IP_ID_BASE
        self.bucket = TokenBucket(self.settings["rate_capacity"],
                                  self.settings["rate_refill_per_sec"])

    # ---- settings -------------------------------------------------------

    def update_settings(self, new):
        unknown = set(new) - set(DEFAULT_SETTINGS)
        if unknown:
            raise ApiError(400, "invalid_input",
                           "unknown settings: %s" % ", ".join(sorted(unknown)))
        if "cross_zone" in new and new["cross_zone"] not in ("accept", "reject"):
            raise ApiError(400, "invalid_input", "cross_zone: accept|reject")
        if "reassign" in new and new["reassign"] not in ("accept", "reject"):
            raise ApiError(400, "invalid_input", "reassign: accept|reject")
        err = new.get("action_error")
        if err is not None and not (isinstance(err, dict) and "code" in err):
            raise ApiError(400, "invalid_input",
                           "action_error: null or {code, message}")
        self.settings.update(new)
        if "rate_capacity" in new or "rate_refill_per_sec" in new:
            # A fresh, full bucket: tests that shrink the capacity want to
            # count from "full" (e.g. capacity 3 -> 3 requests then 429).
            self.bucket = TokenBucket(self.settings["rate_capacity"],
                                      self.settings["rate_refill_per_sec"])
        return self.settings

    # ---- resources ------------------------------------------------------

    def _next_created(self):
        self.created_counter += 1
        return iso(CREATED_BASE + 37 * self.created_counter)

    def add_server(self, s):
        sid = s.get("id")
        if sid is None:
            sid = self.next_server_id
            self.next_server_id += 1
        if not isinstance(sid, int) or isinstance(sid, bool) or sid <= 0:
            raise ApiError(400, "invalid_input", "server id must be a positive integer")
        loc = s.get("location", "fsn1")
        if loc not in LOCATIONS:
            raise ApiError(400, "invalid_input", "unknown location %r" % loc)
        status = s.get("status", "running")
        if status not in SERVER_STATUSES:
            raise ApiError(400, "invalid_input", "unknown status %r" % status)
        ipv4 = s.get("ipv4")
        if ipv4 is not None:
            ipv4 = str(ipaddress.IPv4Address(ipv4))
        ipv6 = s.get("ipv6")
        if ipv6 is not None:
            # The API holds a /64 *network* here (api.md §0.2); accept a host
            # address or a network and store the network.
            ipv6 = str(ipaddress.IPv6Network(
                ipv6 if "/" in ipv6 else ipv6 + "/64", strict=False))
        old = self.servers.get(sid)
        spec = {
            "id": sid,
            "name": s.get("name", "server-%d" % sid),
            "location": loc,
            "status": status,
            "ipv4": ipv4,
            "ipv6": ipv6,
            "labels": dict(s.get("labels", {})),
            "created": s.get("created") or (old and old["created"]) or self._next_created(),
            "private_net": s.get("private_net", []),
            "protection": s.get("protection", {"delete": False, "rebuild": False}),
            "ipv4_id": s.get("ipv4_id") or (old and old["ipv4_id"]) or self._primary_ip_id(),
            "ipv6_id": s.get("ipv6_id") or (old and old["ipv6_id"]) or self._primary_ip_id(),
        }
        for k, v in spec["labels"].items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise ApiError(400, "invalid_input", "labels must be strings")
        self.servers[sid] = spec
        return sid

    def _primary_ip_id(self):
        self.next_primary_ip_id += 1
        return self.next_primary_ip_id - 1

    def delete_server(self, sid):
        if sid not in self.servers:
            raise ApiError(404, "not_found", "server %d not found" % sid)
        del self.servers[sid]
        # Deleting a server unassigns its floating IPs, as the API does.
        for fip in self.fips.values():
            if fip["server"] == sid:
                fip["server"] = None

    def add_fip(self, f):
        fid = f.get("id")
        if fid is None:
            fid = self.next_fip_id
            self.next_fip_id += 1
        if not isinstance(fid, int) or isinstance(fid, bool) or fid <= 0:
            raise ApiError(400, "invalid_input", "floating ip id must be a positive integer")
        ip = f.get("ip")
        if ip is None:
            raise ApiError(400, "invalid_input", "floating ip needs an ip")
        ftype = f.get("type") or ("ipv6" if ":" in ip else "ipv4")
        if ftype == "ipv4":
            ip = str(ipaddress.IPv4Address(ip))
        elif ftype == "ipv6":
            # IPv6 floating IPs are /64 networks (api.md §0.2).
            ip = str(ipaddress.IPv6Network(ip if "/" in ip else ip + "/64",
                                           strict=False))
        else:
            raise ApiError(400, "invalid_input", "type must be ipv4 or ipv6")
        home = f.get("home_location", "fsn1")
        if home not in LOCATIONS:
            raise ApiError(400, "invalid_input", "unknown location %r" % home)
        server = f.get("server")
        if server is not None and server not in self.servers:
            raise ApiError(400, "invalid_input",
                           "server %s does not exist (add servers first)" % server)
        old = self.fips.get(fid)
        if "dns_ptr" in f:
            dns_ptr = f["dns_ptr"]
        elif ftype == "ipv4":
            dns_ptr = [{"ip": ip, "dns_ptr": default_rdns(ip)}]
        else:
            dns_ptr = []
        self.fips[fid] = {
            "id": fid,
            "name": f.get("name", "fip-%d" % fid),
            "description": f.get("description"),
            "type": ftype,
            "ip": ip,
            "home_location": home,
            "server": server,
            "labels": dict(f.get("labels", {})),
            "dns_ptr": dns_ptr,
            "blocked": bool(f.get("blocked", False)),
            "protection": f.get("protection", {"delete": False}),
            "created": f.get("created") or (old and old["created"]) or self._next_created(),
        }
        return fid

    def delete_fip(self, fid):
        if fid not in self.fips:
            raise ApiError(404, "not_found", "floating ip %d not found" % fid)
        del self.fips[fid]

    # ---- rendering (API objects) ---------------------------------------

    def render_server(self, spec):
        loc = LOCATIONS[spec["location"]]
        fip_ids = sorted(f["id"] for f in self.fips.values()
                         if f["server"] == spec["id"])
        pn = {
            "ipv4": None if spec["ipv4"] is None else {
                "id": spec["ipv4_id"], "ip": spec["ipv4"], "blocked": False,
                "dns_ptr": default_rdns(spec["ipv4"])},
            "ipv6": None if spec["ipv6"] is None else {
                "id": spec["ipv6_id"], "ip": spec["ipv6"], "blocked": False,
                "dns_ptr": []},
            "floating_ips": fip_ids,
            "firewalls": [{"id": 1830442, "status": "applied"}],
        }
        obj = {
            "id": spec["id"],
            "name": spec["name"],
            "status": spec["status"],
            "created": spec["created"],
            "public_net": pn,
            "private_net": copy.deepcopy(spec["private_net"]),
            "server_type": copy.deepcopy(SERVER_TYPE),
        }
        if self.settings["location_field"]:
            obj["location"] = dict(loc)
        if self.settings["legacy_datacenter"]:
            dc_id, dc_name, dc_desc = LEGACY_DATACENTERS[spec["location"]]
            obj["datacenter"] = {
                "id": dc_id, "name": dc_name, "description": dc_desc,
                "location": dict(loc),
                "server_types": {"supported": [SERVER_TYPE["id"]],
                                 "available": [SERVER_TYPE["id"]],
                                 "available_for_migration": [SERVER_TYPE["id"]]},
            }
        obj.update({
            "image": copy.deepcopy(IMAGE),
            "iso": None,
            "rescue_enabled": False,
            # Not the action lock: "locked" is the abuse/admin lock (api.md
            # §2.2), which this fake never sets.
            "locked": False,
            "backup_window": None,
            "outgoing_traffic": 18237750112,
            "ingoing_traffic": 2210443005,
            "included_traffic": 21990232555520,
            "protection": dict(spec["protection"]),
            "labels": dict(spec["labels"]),
            "volumes": [],
            "load_balancers": [],
            "primary_disk_size": 40,
            "placement_group": None,
        })
        return obj

    def render_fip(self, spec):
        return {
            "id": spec["id"],
            "name": spec["name"],
            "description": spec["description"],
            "ip": spec["ip"],
            "type": spec["type"],
            "server": spec["server"],
            "dns_ptr": copy.deepcopy(spec["dns_ptr"]),
            "home_location": dict(LOCATIONS[spec["home_location"]]),
            "blocked": spec["blocked"],
            "protection": dict(spec["protection"]),
            "labels": dict(spec["labels"]),
            "created": spec["created"],
        }

    @staticmethod
    def render_action(a):
        return {k: copy.deepcopy(v) for k, v in a.items()
                if not k.startswith("_")}

    # ---- actions and locks ----------------------------------------------

    def create_action(self, command, fip_id, server_id):
        aid = self.next_action_id
        self.next_action_id += 1
        now = time.time()
        resources = []
        if server_id is not None:
            resources.append({"id": server_id, "type": "server"})
        resources.append({"id": fip_id, "type": "floating_ip"})
        s = self.settings
        a = {
            "id": aid, "command": command, "status": "running", "progress": 0,
            "started": iso(now), "finished": None, "resources": resources,
            "error": None,
            # Internal bookkeeping, captured at creation so that changing a
            # setting later does not change actions already under way.
            "_t0": now,
            "_duration": float(s["action_seconds"] or 0),
            "_polls_left": s["action_polls"],
            "_error": copy.deepcopy(s["action_error"]),
            "_grace": float(s["lock_grace_seconds"] or 0),
            "_done_at": None,
            "_fip": fip_id,
            "_server": server_id,
        }
        self.actions[aid] = a
        return a

    def advance_actions(self):
        """Finish time-based actions whose time has come."""
        now = time.time()
        for a in self.actions.values():
            if a["status"] != "running" or a["_polls_left"] is not None:
                continue
            done_at = a["_t0"] + a["_duration"]
            if now >= done_at:
                self._finish(a, done_at)
            elif a["_duration"] > 0:
                a["progress"] = min(99, int(100 * (now - a["_t0"]) / a["_duration"]))

    def poll_action(self, a):
        """A client read the action: counts for poll-based actions."""
        if a["status"] != "running" or a["_polls_left"] is None:
            return
        if a["_polls_left"] <= 0:
            self._finish(a, time.time())
        else:
            a["_polls_left"] -= 1
            a["progress"] = min(99, a["progress"] + 10)

    def _finish(self, a, when):
        a["progress"] = 100
        a["finished"] = iso(when)
        a["_done_at"] = when
        if a["_error"]:
            a["status"] = "error"
            a["error"] = {"code": a["_error"].get("code", "action_failed"),
                          "message": a["_error"].get("message", "Action failed")}
            return
        a["status"] = "success"
        # Only now does the assignment become visible (api.md §7).
        fip = self.fips.get(a["_fip"])
        if fip is None:
            return
        if a["command"] == "assign_floating_ip":
            fip["server"] = a["_server"] if a["_server"] in self.servers else None
        elif a["command"] == "unassign_floating_ip":
            fip["server"] = None

    def is_locked(self, rtype, rid):
        now = time.time()
        for a in self.actions.values():
            if not any(r["type"] == rtype and r["id"] == rid
                       for r in a["resources"]):
                continue
            if a["status"] == "running":
                return True
            if a["_done_at"] is not None and now < a["_done_at"] + a["_grace"]:
                return True
        return False

    def check_unlocked(self, fip_id, server_id):
        # Always the fixture's text (hetzner-fixtures/error_locked.json), the
        # one message seen in the wild, whichever of the two is busy.
        if (server_id is not None and self.is_locked("server", server_id)) or \
                self.is_locked("floating_ip", fip_id):
            raise ApiError(423, "locked",
                           "cannot perform operation because server is locked")

    # ---- fault rules -----------------------------------------------------

    def take_fault(self, method, path, query_string=""):
        for rule in self.faults:
            if rule["left"] == 0:
                continue
            if rule["method"] not in ("*", method):
                continue
            if not rule["_re"].search(path):
                continue
            if rule.get("_qre") and not rule["_qre"].search(query_string):
                continue
            if rule["left"] > 0:
                rule["left"] -= 1
            rule["hits"] += 1
            self.faults = [r for r in self.faults if r["left"] != 0]
            return rule
        return None

    def add_faults(self, rules):
        for r in rules:
            if not isinstance(r, dict):
                raise ApiError(400, "invalid_input", "a rule is an object")
            rule = dict(r)
            rule.setdefault("method", "*")
            rule["method"] = rule["method"].upper()
            rule.setdefault("path", ".*")
            try:
                rule["_re"] = re.compile(rule["path"])
                rule["_qre"] = re.compile(rule["query"]) if rule.get("query") else None
            except re.error as e:
                raise ApiError(400, "invalid_input", "bad path or query regex: %s" % e)
            if "hold" in rule:
                if not isinstance(rule["hold"], str) or not rule["hold"]:
                    raise ApiError(400, "invalid_input", "hold: a name")
                self.holds.setdefault(rule["hold"], threading.Event())
            count = rule.get("count", 1)
            if not isinstance(count, int) or count == 0 or count < -1:
                raise ApiError(400, "invalid_input", "count: N > 0 or -1")
            rule["left"] = count
            rule["hits"] = 0
            if "status" not in rule and "code" in rule:
                rule["status"] = DEFAULT_STATUS_FOR_CODE.get(rule["code"], 500)
            self.faults.append(rule)

    def render_faults(self):
        return [{k: v for k, v in r.items() if not k.startswith("_")}
                for r in self.faults]


def default_rdns(ipv4):
    return "static.%s.clients.your-server.de" % ".".join(reversed(ipv4.split(".")))


# For fault rules that give only a status or only a code (api.md §5.2).
DEFAULT_CODE_FOR_STATUS = {
    400: ("invalid_input", "invalid input"),
    401: ("unauthorized", "unable to authenticate"),
    403: ("forbidden", "insufficient permissions"),
    404: ("not_found", "not found"),
    409: ("conflict", "resource changed during request, please retry"),
    410: ("deprecated_api_endpoint", "this endpoint has been removed"),
    422: ("invalid_input", "invalid input"),
    423: ("locked", "cannot perform operation because server is locked"),
    429: ("rate_limit_exceeded", "limit of 3600 requests per hour reached"),
    500: ("server_error", "internal server error"),
    502: ("bad_gateway", "bad gateway"),
    503: ("unavailable", "service currently unavailable"),
    504: ("timeout", "gateway timeout"),
}
DEFAULT_STATUS_FOR_CODE = {
    "invalid_input": 422, "json_error": 400, "unauthorized": 401,
    "token_readonly": 401, "forbidden": 403, "not_found": 404,
    "conflict": 409, "uniqueness_error": 409, "locked": 423,
    "protected": 423, "rate_limit_exceeded": 429, "service_error": 422,
    "floating_ip_assigned": 422, "must_be_unassigned": 422,
    "server_error": 500, "bad_gateway": 502, "unavailable": 503,
    "maintenance": 503, "timeout": 504, "deprecated_api_endpoint": 410,
}


# --------------------------------------------------------------------------
# Listing helpers
# --------------------------------------------------------------------------

def _int_param(query, name, default):
    vals = query.get(name)
    if not vals:
        return default
    try:
        v = int(vals[-1])
    except ValueError:
        raise ApiError(400, "invalid_input", "invalid %s: %r" % (name, vals[-1]))
    if v < 1:
        raise ApiError(400, "invalid_input", "%s must be at least 1" % name)
    return v


def apply_sort(items, query, resource):
    """items are API objects; sort=field[:asc|:desc], repeatable (api.md §2)."""
    sorts = query.get("sort", [])
    allowed = SORT_FIELDS[resource]
    keys = []
    for s in sorts:
        field, _, direction = s.partition(":")
        if field not in allowed or direction not in ("", "asc", "desc"):
            raise ApiError(400, "invalid_input", "invalid sort field: %s" % s)
        keys.append((field, direction == "desc"))
    items = sorted(items, key=lambda o: o["id"])
    # Stable sorts applied from the least to the most significant key.
    for field, desc in reversed(keys):
        def key(o, field=field):
            v = o.get(field)
            if field in ("created", "started", "finished"):
                return (v is not None, parse_iso(v) if v else 0)
            return (v is not None, v if v is not None else 0)
        items = sorted(items, key=key, reverse=desc)
    return items


def paginate(items, query, base_url, raw_pairs):
    """Returns (page_items, meta, link_header) per api.md §2.3."""
    page = _int_param(query, "page", 1)
    # api.md §2.3: clamp per_page to 50 (behaviour above 50 undocumented).
    per_page = min(_int_param(query, "per_page", 25), 50)
    total = len(items)
    last = max(1, math.ceil(total / per_page))
    chunk = items[(page - 1) * per_page: page * per_page]
    meta = {"pagination": {
        "page": page, "per_page": per_page,
        "previous_page": page - 1 if page > 1 else None,
        "next_page": page + 1 if page < last else None,
        "last_page": last, "total_entries": total,
    }}

    def url(p):
        pairs = [(k, v) for k, v in raw_pairs if k not in ("page", "per_page")]
        pairs += [("page", str(p)), ("per_page", str(per_page))]
        return "%s?%s" % (base_url, urllib.parse.urlencode(pairs))

    links = []
    pg = meta["pagination"]
    if pg["previous_page"]:
        links.append('<%s>; rel="prev"' % url(pg["previous_page"]))
    if pg["next_page"]:
        links.append('<%s>; rel="next"' % url(pg["next_page"]))
    links.append('<%s>; rel="last"' % url(last))
    return chunk, meta, ", ".join(links)


# --------------------------------------------------------------------------
# HTTP layer
# --------------------------------------------------------------------------

class Reply:
    def __init__(self, status, body=None, headers=None, raw=None,
                 content_type="application/json"):
        self.status = status
        self.body = body          # JSON-able, or None
        self.raw = raw            # bytes/str sent as is (overrides body)
        self.headers = headers or {}
        self.content_type = content_type


ROUTES = []


def route(method, pattern):
    rx = re.compile("^" + pattern + "$")

    def deco(fn):
        ROUTES.append((method, rx, fn))
        return fn
    return deco


class Handler(BaseHTTPRequestHandler):
    server_version = "fakecloud/1"

    def version_string(self):
        return self.server_version
    protocol_version = "HTTP/1.1"

    # One dispatcher for every method.
    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fakecloud: %s\n" % (fmt % args))

    # ---- plumbing ---------------------------------------------------------

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send(self, reply, extra_headers=None):
        if reply.raw is not None:
            data = reply.raw.encode() if isinstance(reply.raw, str) else reply.raw
        elif reply.body is not None:
            data = json.dumps(reply.body).encode()
        else:
            data = b""
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Correlation-Id", secrets.token_hex(8))
        # A fault rule's own headers replace same-named ones (e.g. a 429
        # rule sending RateLimit-Remaining: 0).
        headers = {k.lower(): (k, v) for k, v in (extra_headers or {}).items()}
        for k, v in (reply.headers or {}).items():
            headers[k.lower()] = (k, v)
        for k, v in headers.values():
            self.send_header(k, str(v))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def dispatch(self, method):
        world = self.server.world
        split = urllib.parse.urlsplit(self.path)
        path = split.path
        # Standard query decoding: "+" and "%20" both become a space.
        raw_pairs = urllib.parse.parse_qsl(split.query, keep_blank_values=True)
        query = {}
        for k, v in raw_pairs:
            query.setdefault(k, []).append(v)
        try:
            body_bytes = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        if path.startswith("/_control/") or path == "/_control":
            reply = ControlAPI(world).handle(method, path, query, body_bytes)
            self.send(reply)
            return
        if not (path == "/v1" or path.startswith("/v1/")):
            self.send(Reply(404, error_body("not_found", "api route not found")))
            return
        self.handle_api(method, path, query, raw_pairs, body_bytes)

    def handle_api(self, method, path, query, raw_pairs, body_bytes):
        world = self.server.world
        auth = self.headers.get("Authorization")
        body_text = body_bytes.decode("utf-8", "replace")
        try:
            body_logged = json.loads(body_text) if body_text else None
        except ValueError:
            body_logged = body_text
        with world.lock:
            s = world.settings
            readonly = False
            if auth is not None and s["token"] and auth == "Bearer " + s["token"]:
                auth_ok = True
            elif auth is not None and s["readonly_token"] and \
                    auth == "Bearer " + s["readonly_token"]:
                auth_ok = readonly = True
            else:
                auth_ok = False
            # Never log the token itself: only whether a header was there.
            entry = {
                "seq": world.next_request_seq,
                "time": time.time(),
                "method": method,
                "path": path,
                "query": query,
                "body": body_logged,
                "status": None,
                "auth_ok": auth_ok,
                "authorization_present": auth is not None,
                "readonly": readonly,
                "headers": {k: v for k, v in self.headers.items()
                            if k.lower() != "authorization"},
                "fault": None,
            }
            world.next_request_seq += 1
            # Belt and braces: even a client that leaks the token into the
            # query or body must not get it into the log.
            entry = scrub(entry, [t for t in (s["token"], s["readonly_token"]) if t])
            world.log.append(entry)
            # api.md §6: every request counts, authenticated or not.
            allowed, rl_headers = world.bucket.take()
            fault = None if not allowed else world.take_fault(
                method, path, urllib.parse.urlsplit(self.path).query)

        def answer(reply):
            entry["status"] = reply.status
            self.send(reply, rl_headers)

        if not allowed:
            cap = int(world.settings["rate_capacity"])
            answer(Reply(429, error_body(
                "rate_limit_exceeded",
                "limit of %d requests per hour reached" % cap)))
            return

        if fault is not None:
            entry["fault"] = {k: v for k, v in fault.items()
                              if not k.startswith("_") and k not in ("left", "hits")}
            if fault.get("hold"):
                ev = world.holds[fault["hold"]]
                entry["held"] = True
                ev.wait()
                entry["released"] = True
            if fault.get("delay"):
                time.sleep(float(fault["delay"]))
            if fault.get("drop"):
                # Close without a single byte of response.
                entry["status"] = None
                entry["dropped"] = True
                self.close_connection = True
                return
            reply = fault_reply(fault)
            if reply is not None:
                answer(reply)
                return
            # A delay-only rule: fall through to the normal answer.

        if not auth_ok:
            answer(Reply(401, error_body("unauthorized", "unable to authenticate")))
            return
        if readonly and method not in ("GET", "HEAD"):
            answer(Reply(int(world.settings["readonly_status"]), error_body(
                "token_readonly",
                "the token is only allowed to perform GET requests")))
            return

        host = self.headers.get("Host") or "%s:%d" % self.server.server_address[:2]
        base_url = "http://%s%s" % (host, path)
        for m, rx, fn in ROUTES:
            match = rx.match(path[len("/v1"):])
            if match and m == method:
                try:
                    with world.lock:
                        world.advance_actions()
                        reply = fn(world, match, query, body_text,
                                   base_url=base_url, raw_pairs=raw_pairs)
                except ApiError as e:
                    reply = Reply(e.status, e.body(), e.headers)
                except Exception:
                    # A bug in the fake: say so loudly instead of hanging up.
                    traceback.print_exc()
                    reply = Reply(500, error_body("server_error",
                                                  "fakecloud internal error"))
                answer(reply)
                return
        answer(Reply(404, error_body("not_found", "api route not found")))


def scrub(obj, secrets_):
    """A copy of obj with every occurrence of each secret replaced."""
    if isinstance(obj, str):
        for sec in secrets_:
            obj = obj.replace(sec, "<redacted>")
        return obj
    if isinstance(obj, dict):
        return {scrub(k, secrets_): scrub(v, secrets_) for k, v in obj.items()}
    if isinstance(obj, list):
        return [scrub(v, secrets_) for v in obj]
    return obj


def error_body(code, message, details=None):
    return {"error": {"code": code, "message": message, "details": details}}


def fault_reply(rule):
    """The reply a fault rule asks for, or None for a delay-only rule."""
    status = rule.get("status")
    if "body" in rule:
        raw = rule["body"]
        ctype = rule.get("content_type") or (
            "text/html" if raw.lstrip().startswith("<") else "text/plain")
        return Reply(status or 500, raw=raw, content_type=ctype,
                     headers=rule.get("headers"))
    if status is None and "code" not in rule:
        return None
    status = status or DEFAULT_STATUS_FOR_CODE.get(rule["code"], 500)
    dcode, dmsg = DEFAULT_CODE_FOR_STATUS.get(status, ("server_error", "error"))
    return Reply(status, error_body(rule.get("code", dcode),
                                    rule.get("message", dmsg),
                                    rule.get("details")),
                 headers=rule.get("headers"))


# --------------------------------------------------------------------------
# API routes (paths below are relative to /v1)
# --------------------------------------------------------------------------

def _list(world, resource, items, query, base_url, raw_pairs):
    items = apply_sort(items, query, resource)
    chunk, meta, link = paginate(items, query, base_url, raw_pairs)
    return Reply(200, {resource: chunk, "meta": meta}, {"Link": link})


def _filter_common(items, query):
    if query.get("name"):
        items = [o for o in items if o["name"] == query["name"][-1]]
    if "label_selector" in query:
        text = query["label_selector"][-1]
        try:
            reqs = parse_label_selector(text)
        except SelectorError as e:
            raise ApiError(400, "invalid_input", "invalid label_selector: %s" % e)
        items = [o for o in items if selector_matches(reqs, o["labels"])]
    return items


@route("GET", r"/servers")
def list_servers(world, m, query, body, base_url, raw_pairs):
    items = [world.render_server(s) for s in world.servers.values()]
    items = _filter_common(items, query)
    statuses = query.get("status", [])
    for st in statuses:
        if st not in SERVER_STATUSES:
            raise ApiError(400, "invalid_input", "invalid status: %s" % st)
    if statuses:
        items = [o for o in items if o["status"] in statuses]
    return _list(world, "servers", items, query, base_url, raw_pairs)


@route("GET", r"/servers/(\d+)")
def get_server(world, m, query, body, **kw):
    spec = world.servers.get(int(m.group(1)))
    if spec is None:
        raise ApiError(404, "not_found", "server with ID %s not found" % m.group(1))
    return Reply(200, {"server": world.render_server(spec)})


@route("GET", r"/floating_ips")
def list_fips(world, m, query, body, base_url, raw_pairs):
    items = [world.render_fip(f) for f in world.fips.values()]
    items = _filter_common(items, query)
    return _list(world, "floating_ips", items, query, base_url, raw_pairs)


@route("GET", r"/floating_ips/(\d+)")
def get_fip(world, m, query, body, **kw):
    spec = world.fips.get(int(m.group(1)))
    if spec is None:
        raise ApiError(404, "not_found",
                       "floating_ip with ID %s not found" % m.group(1))
    return Reply(200, {"floating_ip": world.render_fip(spec)})


def _fip_or_404(world, fid):
    spec = world.fips.get(fid)
    if spec is None:
        raise ApiError(404, "not_found", "floating_ip with ID %d not found" % fid)
    return spec


def _json_body(body):
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError:
        raise ApiError(400, "json_error", "invalid JSON in request body")


@route("POST", r"/floating_ips/(\d+)/actions/assign")
def assign(world, m, query, body, **kw):
    fip = _fip_or_404(world, int(m.group(1)))
    data = _json_body(body)
    if not isinstance(data, dict) or "server" not in data or data["server"] is None:
        raise invalid_field("server", "Missing data for required field.")
    sid = data["server"]
    if not isinstance(sid, int) or isinstance(sid, bool) or sid <= 0:
        raise invalid_field("server", "Not a valid integer.")
    server = world.servers.get(sid)
    if server is None:
        # The real answer is undocumented. 422 invalid_input (a bad field in
        # the body) rather than 404, which a client would read as "no such
        # floating IP" (the resource in the URL).
        raise ApiError(422, "invalid_input",
                       "server with ID %d not found" % sid,
                       {"fields": [{"name": "server", "messages": [
                           "server with ID %d not found" % sid]}]})
    world.check_unlocked(fip["id"], sid)
    if fip["server"] == sid or (fip["server"] is not None and
                                world.settings["reassign"] == "reject"):
        raise ApiError(422, "floating_ip_assigned",
                       "The Floating IP is already assigned")
    fzone = LOCATIONS[fip["home_location"]]["network_zone"]
    szone = LOCATIONS[server["location"]]["network_zone"]
    if fzone != szone and world.settings["cross_zone"] == "reject":
        raise ApiError(422, "invalid_input",
                       "floating IP in network zone %s cannot be assigned to a "
                       "server in network zone %s" % (fzone, szone),
                       {"fields": [{"name": "server", "messages": [
                           "server is in a different network zone"]}]})
    a = world.create_action("assign_floating_ip", fip["id"], sid)
    return Reply(201, {"action": world.render_action(a)})


@route("POST", r"/floating_ips/(\d+)/actions/unassign")
def unassign(world, m, query, body, **kw):
    fip = _fip_or_404(world, int(m.group(1)))
    data = _json_body(body)        # api.md §4.2: none, or "{}"
    if data is not None and not isinstance(data, dict):
        raise ApiError(400, "json_error", "request body must be an object")
    world.check_unlocked(fip["id"], fip["server"])
    a = world.create_action("unassign_floating_ip", fip["id"], fip["server"])
    return Reply(201, {"action": world.render_action(a)})


def _action_or_404(world, aid, fip_id=None):
    a = world.actions.get(aid)
    if a is None or (fip_id is not None and a["_fip"] != fip_id):
        raise ApiError(404, "not_found", "action with ID %d not found" % aid)
    world.poll_action(a)
    return Reply(200, {"action": world.render_action(a)})


@route("GET", r"/actions/(\d+)")
def get_action(world, m, query, body, **kw):
    return _action_or_404(world, int(m.group(1)))


@route("GET", r"/floating_ips/actions/(\d+)")
def get_fip_action(world, m, query, body, **kw):
    # Every action this fake knows is a floating IP action.
    return _action_or_404(world, int(m.group(1)))


@route("GET", r"/floating_ips/(\d+)/actions/(\d+)")
def get_fip_action2(world, m, query, body, **kw):
    _fip_or_404(world, int(m.group(1)))
    return _action_or_404(world, int(m.group(2)), int(m.group(1)))


def _list_actions(world, query, base_url, raw_pairs, fip_id=None,
                  require_id=True):
    ids = query.get("id", [])
    if require_id and not ids:
        # api.md §0.8: listing all actions was removed on 2025-01-30.
        raise ApiError(400, "invalid_input",
                       "missing required parameter: id")
    try:
        wanted = [int(i) for i in ids]
    except ValueError:
        raise ApiError(400, "invalid_input", "invalid id")
    if ids:
        actions = [world.actions[i] for i in dict.fromkeys(wanted)
                   if i in world.actions]
    else:
        actions = list(world.actions.values())
    if fip_id is not None:
        actions = [a for a in actions if a["_fip"] == fip_id]
    for st in query.get("status", []):
        if st not in ("running", "success", "error"):
            raise ApiError(400, "invalid_input", "invalid status: %s" % st)
    if query.get("status"):
        actions = [a for a in actions if a["status"] in query["status"]]
    for a in actions:
        world.poll_action(a)
    items = [world.render_action(a) for a in actions]
    return _list(world, "actions", items, query, base_url, raw_pairs)


@route("GET", r"/actions")
def list_actions(world, m, query, body, base_url, raw_pairs):
    return _list_actions(world, query, base_url, raw_pairs)


@route("GET", r"/floating_ips/actions")
def list_fip_actions(world, m, query, body, base_url, raw_pairs):
    return _list_actions(world, query, base_url, raw_pairs)


@route("GET", r"/floating_ips/(\d+)/actions")
def list_one_fip_actions(world, m, query, body, base_url, raw_pairs):
    fip = _fip_or_404(world, int(m.group(1)))
    return _list_actions(world, query, base_url, raw_pairs, fip["id"],
                         require_id=False)


@route("GET", r"/locations")
def list_locations(world, m, query, body, base_url, raw_pairs):
    items = [dict(l) for l in LOCATIONS.values()]
    if query.get("name"):
        items = [l for l in items if l["name"] == query["name"][-1]]
    chunk, meta, link = paginate(items, query, base_url, raw_pairs)
    return Reply(200, {"locations": chunk, "meta": meta}, {"Link": link})


@route("GET", r"/locations/(\d+)")
def get_location(world, m, query, body, **kw):
    for l in LOCATIONS.values():
        if l["id"] == int(m.group(1)):
            return Reply(200, {"location": dict(l)})
    raise ApiError(404, "not_found", "location with ID %s not found" % m.group(1))


# --------------------------------------------------------------------------
# Control API
# --------------------------------------------------------------------------

class ControlAPI:
    """Test control under /_control (no auth, not rate limited, not logged).

    POST   /_control/reset
    GET    /_control/settings            -> {"settings": {...}}
    POST   /_control/settings  {...}     -> {"settings": {...}}
    POST   /_control/servers   {"servers": [spec...]}   -> {"servers": [obj...]}
    DELETE /_control/servers/{id}
    POST   /_control/floating_ips {"floating_ips": [spec...]} -> {"floating_ips": [obj...]}
    DELETE /_control/floating_ips/{id}
    GET    /_control/faults              -> {"rules": [...]} (with "left", "hits")
    POST   /_control/faults    {"rules": [...]}  (appends)
    DELETE /_control/faults
    GET    /_control/requests[?since=SEQ] -> [entry...] (oldest first)
    DELETE /_control/requests
    GET    /_control/state               -> {"servers", "floating_ips", "actions", "rate"}
    POST   /_control/release   {"hold": NAME}  lets the requests held by that name go

    Order of processing for every /v1 request:
      log entry -> rate limit (429) -> fault rules -> auth (401 /
      token_readonly) -> route.

    A server spec: {"id": int (default: auto, above 2^32), "name",
      "location": "fsn1"|"nbg1"|"hel1"|"ash"|"hil"|"sin", "status": "running",
      "ipv4": "127.0.0.11"|null, "ipv6": "2001:db8::/64"|"::1"|null (stored as
      the /64 network), "labels": {}, "created": "...Z", "private_net": [],
      "protection": {"delete": false, "rebuild": false}}
    A floating IP spec: {"id" (default: auto, above 2^31), "name", "type"
      (default from ip), "ip", "home_location": "fsn1", "server": id|null,
      "labels": {}, "description": null, "dns_ptr": [...], "blocked": false,
      "protection": {"delete": false}, "created"}
      server.public_net.floating_ips is always derived from the floating
      IPs, so the two can never disagree.

    A fault rule (rules are tried in order; the first live rule that matches
    the method and path answers and uses up one of its count):
      "method":  "GET" | "POST" | ... | "*"            (default "*")
      "path":    regex, re.search on the path without query, e.g.
                 "^/v1/floating_ips/\\d+/actions/assign$"  (default ".*")
      "count":   N > 0, or -1 for forever               (default 1)
      "status":  HTTP status; "code"/"message"/"details" give the JSON error
                 body (missing parts default from the status, or the status
                 from the code: 409 conflict, 423 locked, 429
                 rate_limit_exceeded, 502 bad_gateway, 503 unavailable, 504
                 timeout, 500 server_error, 401 unauthorized, 403 forbidden,
                 404 not_found, 422 invalid_input ...)
      "body":    raw string sent instead of JSON; "content_type" defaults to
                 text/html if it starts with "<", else text/plain
      "headers": extra response headers
      "query":   regex, re.search on the raw query string, e.g.
                 "label_selector=role%3Da" (default: any)
      "delay":   seconds to sleep first; a rule with only a delay then
                 answers normally (slow API), with "drop" it then drops
      "drop":    true: close the connection without any response
      "hold":    a name: the request is held open, without a byte of
                 answer, until POST /_control/release {"hold": name}; then
                 the rule's other parts apply (none: the normal answer).
                 The log entry says "held": true, then "released": true.
    """

    def __init__(self, world):
        self.world = world

    def handle(self, method, path, query, body_bytes):
        try:
            data = json.loads(body_bytes) if body_bytes.strip() else {}
        except ValueError:
            return Reply(400, error_body("json_error", "invalid JSON"))
        w = self.world
        try:
            with w.lock:
                w.advance_actions()
                return self._route(method, path[len("/_control"):], query, data)
        except ApiError as e:
            return Reply(e.status, e.body())
        except (ValueError, TypeError, KeyError) as e:
            return Reply(400, error_body("invalid_input", "bad control request: %s" % e))

    def _route(self, method, p, query, data):
        w = self.world
        if (method, p) == ("POST", "/reset"):
            w.reset()
            return Reply(200, {"ok": True})
        if p == "/settings":
            if method == "POST":
                w.update_settings(data)
            return Reply(200, {"settings": w.settings})
        if (method, p) == ("POST", "/servers"):
            ids = [w.add_server(s) for s in data.get("servers", [])]
            return Reply(200, {"servers": [w.render_server(w.servers[i]) for i in ids]})
        m = re.fullmatch(r"/servers/(\d+)", p)
        if m and method == "DELETE":
            w.delete_server(int(m.group(1)))
            return Reply(200, {"ok": True})
        if (method, p) == ("POST", "/floating_ips"):
            ids = [w.add_fip(f) for f in data.get("floating_ips", [])]
            return Reply(200, {"floating_ips": [w.render_fip(w.fips[i]) for i in ids]})
        m = re.fullmatch(r"/floating_ips/(\d+)", p)
        if m and method == "DELETE":
            w.delete_fip(int(m.group(1)))
            return Reply(200, {"ok": True})
        if p == "/faults":
            if method == "POST":
                w.add_faults(data.get("rules", []))
            elif method == "DELETE":
                w.faults = []
            return Reply(200, {"rules": w.render_faults()})
        if p == "/requests":
            if method == "DELETE":
                w.log = []
                return Reply(200, [])
            since = int(query.get("since", ["0"])[-1])
            return Reply(200, [e for e in w.log if e["seq"] > since])
        if (method, p) == ("POST", "/release"):
            ev = w.holds.get(data.get("hold"))
            if ev is None:
                raise ApiError(404, "not_found", "no hold named %r" % data.get("hold"))
            ev.set()
            return Reply(200, {"ok": True})
        if (method, p) == ("GET", "/state"):
            return Reply(200, {
                "servers": [w.render_server(s) for _, s in sorted(w.servers.items())],
                "floating_ips": [w.render_fip(f) for _, f in sorted(w.fips.items())],
                "actions": [w.render_action(a) for _, a in sorted(w.actions.items())],
                "rate": {"tokens": w.bucket.tokens, "capacity": w.bucket.capacity},
            })
        return Reply(404, error_body("not_found", "control route not found"))


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

class Server(ThreadingHTTPServer):
    daemon_threads = True       # slow/delayed handlers never block exit
    block_on_close = False
    request_queue_size = 128
    allow_reuse_address = True


def parse_hostport(s):
    host, _, port = s.rpartition(":")
    host = host.strip("[]")
    return host, int(port)


def write_ready(path, text):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text + "\n")
    os.rename(tmp, path)


def serve_until_sigterm(httpd, name):
    """serve_forever in a thread; SIGTERM/SIGINT stop it cleanly."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    t = threading.Thread(target=httpd.serve_forever, args=(0.1,), name=name,
                         daemon=True)
    t.start()
    while not stop.wait(0.1):
        pass
    httpd.shutdown()
    httpd.server_close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--token", required=True)
    ap.add_argument("--ready-file")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    host, port = parse_hostport(args.listen)
    if not (host == "::1" or host.startswith("127.")):
        ap.error("only loopback addresses are allowed")
    if ":" in host:
        Server.address_family = socket.AF_INET6
    httpd = Server((host, port), Handler)
    httpd.world = World(args.token)
    httpd.verbose = args.verbose
    h, p = httpd.server_address[:2]
    hostport = ("[%s]:%d" % (h, p)) if ":" in h else "%s:%d" % (h, p)
    if args.ready_file:
        write_ready(args.ready_file, hostport)
    print(hostport, flush=True)
    serve_until_sigterm(httpd, "fakecloud")
    return 0


if __name__ == "__main__":
    sys.exit(main())
