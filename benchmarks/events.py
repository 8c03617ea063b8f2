#!/usr/bin/env python3
"""How fast ``digest events-server`` answers SendGrid's posts, processes their events, and how long
``digest report`` takes on the result.

  python benchmarks/events.py [--recipients 20000] [--per-post 1000] [--repeat 3]

A throwaway newsletter (one issue folder) is made in a temporary folder; the receiver runs in this process on
its HTTP/1.1 server on 127.0.0.1 and is posted to over one keep-alive connection, each post signed with a
throwaway P-256 key like SendGrid's. Per recipient: processed, delivered, two opens (a quarter of them also a
machine open), a click for one in five, plus bounces for 2 %. Figures:

1. **answer**: time from sending a post to its 200 (signature check and the inbox commit; the processing runs
   in the background at the same time): median and 95th percentile over all posts;
2. **processed**: time from the first post to the last event stored (events per second);
3. **report**: ``issue_report`` on the issue's store.

Each run is repeated ``--repeat`` times and the median run printed. The machine may be shared: read the
figures as orders of magnitude.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def make_events(n: int, rng: random.Random) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    now = int(time.time())

    def add(kind: str, email: str, **extra: Any) -> None:
        out.append({"email": email, "timestamp": now + rng.randrange(3600), "event": kind,
                    "sg_event_id": f"e{len(out)}", "sg_message_id": "m.filter", "digest_issue": "week-1", **extra})

    for i in range(n):
        email = f"reader{i}@example.org"
        add("processed", email)
        if i % 50 == 0:
            add("bounce", email, type="bounce", reason="550 5.1.1 unknown")
            continue
        add("delivered", email)
        if i % 4 == 0:
            add("open", email, sg_machine_open=True)
        add("open", email, sg_machine_open=False)
        add("open", email, sg_machine_open=False)
        if i % 5 == 0:
            add("click", email, url=f"https://example.org/story-{i % 7}")
    rng.shuffle(out)
    return out


def one_run(n: int, per_post: int) -> dict[str, float]:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from digest.compose.issue_file import new_issue
    from digest.deliver import events
    from digest.deliver.http11 import make_server
    from digest.deliver.report import issue_report

    key = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "digest.toml").write_text('[newsletter]\nfrom_email = "n@example.org"\n', encoding="utf-8")
        new_issue(root / "week-1", "Week 1")
        items = make_events(n, random.Random(7))
        bodies = [json.dumps(items[i:i + per_post], separators=(",", ":")).encode()
                  for i in range(0, len(items), per_post)]
        app = events.EventsApp(root, events.Verifier(public))
        httpd = make_server("127.0.0.1", 0, app)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        conn = http.client.HTTPConnection("127.0.0.1", httpd.server_port, timeout=60)
        answers = []
        start = time.perf_counter()
        for body in bodies:
            ts = str(int(time.time()))
            sig = base64.b64encode(key.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
            t0 = time.perf_counter()
            conn.request("POST", "/", body=body, headers={
                "Content-Type": "application/json", "X-Twilio-Email-Event-Webhook-Signature": sig,
                "X-Twilio-Email-Event-Webhook-Timestamp": ts})
            resp = conn.getresponse()
            resp.read()
            answers.append(time.perf_counter() - t0)
            assert resp.status == 200
        while app.inbox.counters()["pending"]:
            time.sleep(0.01)
        processed = time.perf_counter() - start
        stored = app.inbox.counters()["stored"]
        assert stored == len(items), (stored, len(items))
        conn.close()
        httpd.shutdown()
        httpd.server_close()
        app.close()
        t0 = time.perf_counter()
        report = issue_report(root / "week-1")
        report_s = time.perf_counter() - t0
        assert report["opened"] == report["delivered"] == n - (n + 49) // 50  # every 50th bounced
    answers.sort()
    return {"events": len(items), "posts": len(bodies), "answer_median_ms": statistics.median(answers) * 1000,
            "answer_p95_ms": answers[int(len(answers) * 0.95) - 1] * 1000, "processed_s": processed,
            "events_per_s": len(items) / processed, "report_s": report_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=20000)
    parser.add_argument("--per-post", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = sorted((one_run(args.recipients, args.per_post) for _ in range(args.repeat)),
                  key=lambda r: r["processed_s"])
    r = runs[len(runs) // 2]
    print(f"{args.recipients:,} recipients: {r['events']:,} events in {r['posts']} posts of {args.per_post}")
    print(f"answer:    median {r['answer_median_ms']:.1f} ms, p95 {r['answer_p95_ms']:.1f} ms per post")
    print(f"processed: {r['processed_s']:.2f} s from the first post to the last event stored "
          f"({r['events_per_s']:,.0f} events/s)")
    print(f"report:    {r['report_s'] * 1000:.0f} ms (issue_report on the store)")


if __name__ == "__main__":
    main()
