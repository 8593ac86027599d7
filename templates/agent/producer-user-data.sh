#!/bin/bash
# User data of a pipectl host with `run: producer`: installs pipectl's
# built-in producer and runs it as the `pipectl-producer` service. It runs
# once, at first boot: a changed producer means a new host.
set -euxo pipefail

dnf install -y python3 python3-boto3 || { dnf install -y python3-pip && pip3 install boto3; }

install -d -m 0755 /opt/pipectl
cat > /opt/pipectl/producer.py <<'PIPECTL_PRODUCER_PY'
{{PRODUCER_PY}}
PIPECTL_PRODUCER_PY

cat > /etc/systemd/system/pipectl-producer.service <<'PIPECTL_UNIT'
[Unit]
Description=pipectl built-in producer
After=network-online.target
Wants=network-online.target

[Service]
{{ENVIRONMENT}}
ExecStart=/usr/bin/python3 /opt/pipectl/producer.py
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
PIPECTL_UNIT

systemctl daemon-reload
systemctl enable pipectl-producer
systemctl restart pipectl-producer
