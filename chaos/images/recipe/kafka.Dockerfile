# Apache Kafka jars on the local Debian base, plus AppCDS archives of a broker's and the storage
# tool's classes (see train-cds.sh). The cluster code copies its start script, server.properties
# and logging config into each container before starting it.
ARG BASE
FROM ${BASE}
COPY libs/ /opt/kafka/libs/
COPY train-cds.sh /opt/kafka/train-cds.sh
RUN sh /opt/kafka/train-cds.sh && mkdir -p /var/lib/kafka/data /kafka-chaos
