"""The black-box application path: inputs per second the harness feeds and judges through a team's
application, against that application's own throughput without the harness.

* bare: the application (``examples/apps/run streams``, at least once) alone, fed by a plain
  confluent-kafka producer as fast as it goes, in the same shape (a JSON value with the record's
  identity, the identity as the key), once the application's group is stable; the clock runs from
  the first send until the output topic holds every record.
* harness: ``kafka-chaos``'s own run of the same application on the same cluster (an experiment with
  an ``application:`` section and no fault): the harness's producer workload (librdkafka, ledgers
  and all) feeds it live; **fed** is inputs per second from the producer's start to the last
  output's append time (the brokers' clock), **judged** the inputs per second of the drain (input
  and output topics, every output correlated) and the reconcile, and **end to end** from the
  producer's start to the verdict, with the wait for the application to catch up.

Runs alternate (bare, harness, …) so drift hits both; prints medians and ratios to bare.

Usage: python3 benchmarks/app_throughput.py [--records 100000] [--runs 3]
Target: fed / bare >= 0.8 and judged / bare >= 0.8.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
import uuid
from pathlib import Path

import confluent_kafka as ck
import numpy as np
from shared import parser, three_brokers

from chaos.cluster import KafkaCluster
from chaos.experiments.app_run import group_members, output_records
from chaos.experiments.loading import load_experiment
from chaos.experiments.runner import ExperimentRun, RunOptions
from chaos.workloads.ledger import OUTPUT_TIME

APP = Path(__file__).resolve().parents[1] / "examples" / "apps" / "run"

EXPERIMENT = """\
name: {name}
topic: {{name: {topic}}}
producer: {{mode: async, client: librdkafka, count: {records}, settings: {{acks: all, linger.ms: 5}}}}
application:
  command: [{app}, streams]
  env: {{BOOTSTRAP_SERVERS: "${{bootstrap}}", INPUT_TOPIC: "${{input_topic}}", OUTPUT_TOPIC: "${{output_topic}}",
        GROUP_ID: "${{group}}", APP_SETTINGS: "session.timeout.ms=6000"}}
  input: {{value: {{order: "${{id}}", amount: "${{seq}}"}}, key: "${{id}}"}}
  output: {{correlate: key}}
phases: {{warmup: 0, settle: 0, consume_quiet: 1}}
expect: {{total_loss: 0}}
"""


def bare(cluster: KafkaCluster, records: int, work: Path) -> float:
    """The application alone, fed live: records per second from the first send to its last output."""
    topic, group = f"bare-{uuid.uuid4().hex[:6]}", f"bare-{uuid.uuid4().hex[:6]}"
    out = f"{topic}-out"
    cluster.create_topic(topic, 3, 3)
    cluster.create_topic(out, 3, 3)
    env = {"BOOTSTRAP_SERVERS": cluster.bootstrap_servers, "INPUT_TOPIC": topic, "OUTPUT_TOPIC": out}
    env |= {"GROUP_ID": group, "APP_SETTINGS": "session.timeout.ms=6000"}
    outputs, members = output_records(cluster.bootstrap_servers, out), group_members(cluster.bootstrap_servers, group)
    with (work / f"{group}.log").open("wb") as log:
        proc = subprocess.Popen([str(APP), "streams"], env={**os.environ, **env}, stdout=log, stderr=log)
        try:
            while not members():
                time.sleep(0.05)
            producer = ck.Producer({"bootstrap.servers": cluster.bootstrap_servers, "acks": "all", "linger.ms": 5})
            t0 = time.perf_counter()
            for seq in range(records):
                key = f"p0-{seq}".encode()
                value = json.dumps({"order": key.decode(), "amount": seq}).encode()
                while True:
                    try:
                        producer.produce(topic, key=key, value=value)
                        break
                    except BufferError:
                        producer.poll(0.01)
                if seq % 10_000 == 0:
                    producer.poll(0)
            producer.flush()
            while outputs() < records:
                time.sleep(0.05)
            return records / (time.perf_counter() - t0)
        finally:
            proc.terminate()
            proc.wait(60)


def harness(cluster: KafkaCluster, records: int, work: Path) -> tuple[float, float, float]:
    """The harness's run of the application: inputs per second fed (producer start to last output),
    judged (drain and reconcile) and end to end (producer start to verdict)."""
    name = f"bench-{uuid.uuid4().hex[:6]}"
    path = work / f"{name}.yaml"
    path.write_text(EXPERIMENT.format(name=name, topic=name, records=records, app=APP))
    run = ExperimentRun(load_experiment(path), work / name, RunOptions(reports_dir=work), cluster=cluster)
    result = run.run()
    assert result.verdict is not None and result.verdict.passed, result.error
    phases = {p["name"]: p for p in json.loads((work / name / "phases.json").read_text())}
    appended = np.fromfile(work / name / "drain" / "output-times.bin", dtype=OUTPUT_TIME)["t_ms"]
    start = float(phases["workloads"]["end"])
    fed = records / (float(appended.max()) / 1000 - start)
    judged = records / (float(phases["reconcile"]["end"]) - float(phases["drain"]["start"]))
    return fed, judged, records / (float(phases["reconcile"]["end"]) - start)


def main() -> None:
    args = parser(__doc__)
    args.add_argument("--records", type=int, default=100_000)
    args.add_argument("--runs", type=int, default=3)
    opts = args.parse_args()
    subprocess.run([str(APP), "--build"], check=True)
    rates: dict[str, list[float]] = {"bare": [], "fed": [], "judged": [], "end to end": []}
    with three_brokers() as (cluster, work):
        for i in range(opts.runs):
            rates["bare"].append(bare(cluster, opts.records, work))
            fed, judged, whole = harness(cluster, opts.records, work)
            rates["fed"].append(fed)
            rates["judged"].append(judged)
            rates["end to end"].append(whole)
            print(f"run {i + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in rates.items()), flush=True)
    b = statistics.median(rates["bare"])
    print(f"median bare: {b:,.0f} inputs/s")
    for name in ("fed", "judged", "end to end"):
        m = statistics.median(rates[name])
        print(f"median {name}: {m:,.0f} inputs/s, {m / b:.2f} of bare")


if __name__ == "__main__":
    main()
