#!/bin/sh
# The command of a node with sshd (ClusterSpec.sshd), under the engine's init (PID 1, which reaps
# whatever dies): install the harness's keys, keep the environment Kafka needs for a start over SSH,
# start Kafka in the background (kafka-ctl), then run OpenSSH's server until the container is
# stopped. Kafka can die, and be started again over SSH, while the container and its SSH server
# live on.
set -eu
umask 077
# An SSH session has none of the container's environment: kafka-ctl reads it back from here.
export -p | grep -E '^export (KAFKA_CHAOS_[A-Z0-9_]*|JAVA_HOME|LANG)=' >/kafka-chaos/env
chmod 600 /kafka-chaos/env
mkdir -p /root/.ssh /run/sshd
chmod 700 /root/.ssh
install -m 600 /kafka-chaos/authorized_keys /root/.ssh/authorized_keys
install -m 600 /kafka-chaos/ssh_host_ed25519_key /etc/ssh/ssh_host_ed25519_key
install -m 600 /kafka-chaos/ssh_host_ed25519_key.pub /etc/ssh/ssh_host_ed25519_key.pub
chmod 600 /kafka-chaos/ssh_host_ed25519_key
cat >/etc/ssh/sshd_config <<'CONFIG'
# Written by kafka-chaos's host.sh: root by key only, with the host key the harness made.
Port 22
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PrintMotd no
PidFile /run/sshd.pid
Subsystem sftp internal-sftp
CONFIG
# A pid file of the container's last life names nothing now.
rm -f /run/kafka.pid
sh /kafka-chaos/kafka-ctl start
/usr/sbin/sshd -D -e &
sshd=$!
# The engine's init passes a stop's SIGTERM to this shell alone, and Kafka runs in a session of its
# own: it gets the signal from here, so `docker stop` shuts it down cleanly, as it does a node
# without sshd, where Kafka is the container's process. The container ends with the SSH server.
stop() {
  trap '' TERM INT
  sh /kafka-chaos/kafka-ctl stop || true
  kill -TERM "$sshd" 2>/dev/null || true
  wait "$sshd" || true
  exit 0
}
trap stop TERM INT
wait "$sshd"
