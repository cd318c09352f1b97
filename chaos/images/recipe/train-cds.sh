#!/bin/sh
# Runs once while the image is built: start a one-node cluster, let it come up, shut it down
# cleanly, and keep the classes it loaded as an AppCDS archive (/opt/kafka/kafka.jsa). Brokers
# started with -XX:SharedArchiveFile then map those classes instead of parsing and verifying them,
# which is most of a broker's start-up time when several share two cores.
set -eu
work=$(mktemp -d)
cat > "$work/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@localhost:19093
listeners=PLAINTEXT://localhost:19092,CONTROLLER://localhost:19093
advertised.listeners=PLAINTEXT://localhost:19092
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$work/data
offsets.topic.replication.factor=1
PROPS
cat > "$work/log4j2.properties" <<LOG
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = %m%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
LOG
cp=/opt/kafka/libs/*
log="-Dlog4j2.configurationFile=$work/log4j2.properties"
java -Xmx128m -XX:ArchiveClassesAtExit=/opt/kafka/format.jsa $log -cp "$cp" \
  kafka.tools.StorageTool format -t AAAAAAAAAAAAAAAAAAAAAA -c "$work/server.properties" >/dev/null 2>&1
java -Xmx512m -XX:ArchiveClassesAtExit=/opt/kafka/kafka.jsa $log -cp "$cp" kafka.Kafka "$work/server.properties" \
  >"$work/out.log" 2>&1 &
pid=$!
i=0
until grep -q "Kafka Server started" "$work/out.log"; do
  i=$((i + 1))
  if [ "$i" -gt 240 ] || ! kill -0 "$pid" 2>/dev/null; then
    echo "CDS training broker did not start:" >&2; tail -n 40 "$work/out.log" >&2; exit 1
  fi
  sleep 0.5
done
kill -TERM "$pid"
wait "$pid" || true
rm -rf "$work"
ls -l /opt/kafka/*.jsa
