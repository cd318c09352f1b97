"""The black-box application path: inputs per second the harness feeds and judges through a team's
application, against that application's own throughput without the harness.

* bare: the application (``examples/apps/run streams``, at least once) alone. Its input is written
  first, in the same shape (a JSON value with the record's identity, the identity as the key) by a
  plain confluent-kafka producer; then the application starts, and once its group is stable the
  clock runs until its output topic holds every record.
* harness: ``kafka-chaos``'s own run of the same application on the same cluster (an experiment with
  an ``application:`` section and no fault): the harness's producer (librdkafka) writes the input
  live while the application reads it, then the harness waits for it to catch up, drains the output
  topic, correlates every output and reconciles. The clock runs from the producer's start (the
  application is started and its group stable before that, as on the bare side) to the verdict.

Runs alternate (bare, harness, …) so drift hits both; prints medians and the ratio.

Usage: python3 benchmarks/app_throughput.py [--records 200000] [--runs 3]
Target: harness / bare >= 0.8.
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
from shared import parser, three_brokers

from chaos.cluster import KafkaCluster
from chaos.experiments.app_run import group_members, output_records
from chaos.experiments.loading import load_experiment
from chaos.experiments.runner import ExperimentRun, RunOptions

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
    """The application alone on preloaded input: records per second from its group's start to its last output."""
    topic, group = f"bare-{uuid.uuid4().hex[:6]}", f"bare-{uuid.uuid4().hex[:6]}"
    out = f"{topic}-out"
    cluster.create_topic(topic, 3, 3)
    cluster.create_topic(out, 3, 3)
    producer = ck.Producer({"bootstrap.servers": cluster.bootstrap_servers, "acks": "all", "linger.ms": 5})
    for seq in range(records):
        key = f"p0-{seq}".encode()
        producer.produce(topic, key=key, value=json.dumps({"order": key.decode(), "amount": seq}).encode())
        if seq % 10_000 == 0:
            producer.poll(0)
    producer.flush()
    env = {"BOOTSTRAP_SERVERS": cluster.bootstrap_servers, "INPUT_TOPIC": topic, "OUTPUT_TOPIC": out}
    env |= {"GROUP_ID": group, "APP_SETTINGS": "session.timeout.ms=6000"}
    outputs, members = output_records(cluster.bootstrap_servers, out), group_members(cluster.bootstrap_servers, group)
    with (work / f"{group}.log").open("wb") as log:
        proc = subprocess.Popen([str(APP), "streams"], env={**os.environ, **env}, stdout=log, stderr=log)
        try:
            while not members():
                time.sleep(0.05)
            t0 = time.perf_counter()
            while outputs() < records:
                time.sleep(0.05)
            return records / (time.perf_counter() - t0)
        finally:
            proc.terminate()
            proc.wait(60)


def harness(cluster: KafkaCluster, records: int, work: Path) -> float:
    """The harness's run of the application: records per second from its producer's start to the verdict."""
    name = f"bench-{uuid.uuid4().hex[:6]}"
    path = work / f"{name}.yaml"
    path.write_text(EXPERIMENT.format(name=name, topic=name, records=records, app=APP))
    run = ExperimentRun(load_experiment(path), work / name, RunOptions(reports_dir=work), cluster=cluster)
    result = run.run()
    assert result.verdict is not None and result.verdict.passed, result.error
    phases = {p["name"]: p for p in json.loads((work / name / "phases.json").read_text())}
    return records / (float(phases["reconcile"]["end"]) - float(phases["workloads"]["end"]))


def main() -> None:
    args = parser(__doc__)
    args.add_argument("--records", type=int, default=200_000)
    args.add_argument("--runs", type=int, default=3)
    opts = args.parse_args()
    subprocess.run([str(APP), "--build"], check=True)
    rates: dict[str, list[float]] = {"bare": [], "harness": []}
    with three_brokers() as (cluster, work):
        for i in range(opts.runs):
            rates["bare"].append(bare(cluster, opts.records, work))
            rates["harness"].append(harness(cluster, opts.records, work))
            print(f"run {i + 1}: bare {rates['bare'][-1]:,.0f}/s, harness {rates['harness'][-1]:,.0f}/s", flush=True)
    b, h = statistics.median(rates["bare"]), statistics.median(rates["harness"])
    print(f"median: bare {b:,.0f} inputs/s, harness {h:,.0f} inputs/s, ratio {h / b:.2f} (target >= 0.8)")


if __name__ == "__main__":
    main()
