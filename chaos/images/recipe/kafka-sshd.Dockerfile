# A Kafka image whose nodes are also reached over SSH (ClusterSpec.sshd): the release's Kafka image
# with OpenSSH's server. Its own host keys are removed: every node gets one the harness made for its
# cluster, so no two clusters share a key and the image carries none.
ARG KAFKA
FROM ${KAFKA}
RUN apt-get update && apt-get install -y --no-install-recommends openssh-server && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /run/sshd && rm -f /etc/ssh/ssh_host_*
