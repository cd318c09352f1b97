#!/bin/sh
# The command of every Kafka container: format the storage once, then become the broker (PID 1,
# so a SIGKILL or SIGSTOP sent to the container lands on the JVM itself).
set -eu
libs="${KAFKA_CHAOS_LIBS:-/opt/kafka/libs}"
conf=/kafka-chaos/server.properties
logging="-Dlog4j2.configurationFile=/kafka-chaos/log4j2.properties -Dlog4j.configuration=file:/kafka-chaos/log4j.properties"
# AppCDS archives made when the image was built (absent in other images: then plain start-up).
cds_tool=""; cds_broker=""
[ -f /opt/kafka/format.jsa ] && cds_tool="-XX:SharedArchiveFile=/opt/kafka/format.jsa"
[ -f /opt/kafka/kafka.jsa ] && cds_broker="-XX:SharedArchiveFile=/opt/kafka/kafka.jsa"
if [ "${KAFKA_CHAOS_DISK:-plain}" = kcfs ]; then
  # The data disk is kcfs (a disk that can lose power): mount it over /var/lib/kafka first.
  mkdir -p /kcfs-store /var/lib/kafka
  rm -f /run/kcfs.sock
  /kafka-chaos/kcfs mount /kcfs-store /var/lib/kafka /run/kcfs.sock 2>/kafka-chaos/kcfs.log &
  i=0
  until [ -S /run/kcfs.sock ]; do
    i=$((i + 1))
    if [ "$i" -gt 200 ]; then
      echo "kafka-chaos: kcfs did not mount the data disk: $(cat /kafka-chaos/kcfs.log)" >&2
      exit 1
    fi
    sleep 0.05
  done
fi
data=$(sed -n 's/^log\.dirs=//p' "$conf" | cut -d, -f1)
mkdir -p "$data"
if [ ! -f "$data/meta.properties" ]; then
  # The secure listener's SCRAM credential comes from a file the harness copied in: its password is in
  # neither the container's environment nor its command, which the engine shows to anyone asking.
  set --
  if [ -f /kafka-chaos/scram.arg ]; then
    set -- --add-scram "$(cat /kafka-chaos/scram.arg)"
  fi
  # A short-lived tool JVM: C1 only and a small heap start fastest.
  # shellcheck disable=SC2086
  java -Xmx128m -XX:TieredStopAtLevel=1 $cds_tool $logging -cp "$libs/*" \
    kafka.tools.StorageTool format --cluster-id="$KAFKA_CHAOS_CLUSTER_ID" --config="$conf" --ignore-formatted \
    ${KAFKA_CHAOS_FORMAT_ARGS:-} "$@"
  if [ "${KAFKA_CHAOS_DISK:-plain}" = kcfs ]; then
    # What the format wrote is made durable before the run: a machine's writeback would have put it
    # on the disk long before any fault (3.9 and 4.0 never fsync bootstrap.checkpoint, and a node
    # that loses it cannot start). A power loss takes what the run wrote, not the installation.
    for dir in $(sed -n 's/^log\.dirs=//p' "$conf" | tr , ' '); do
      find "$dir" -type f -exec sync {} +
    done
  fi
fi
# shellcheck disable=SC2086
exec java $cds_broker ${KAFKA_CHAOS_JVM_OPTS:-} $logging -cp "$libs/*" kafka.Kafka "$conf"
