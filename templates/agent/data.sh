
# The spec's `data:`: rows generated here by pipectl's built-in producer
# (the host role reads no bucket), written once the agent runs, first
# outside every flow's pattern, then renamed into place, so the agent never
# reads a half-written file. An existing file is left as it is.
install -d -m 0755 /opt/pipectl
cat > /opt/pipectl/producer.py <<'PIPECTL_PRODUCER_PY'
{{PRODUCER_PY}}
PIPECTL_PRODUCER_PY
cat > /opt/pipectl/data.json <<'PIPECTL_DATA_JSON'
{{DATA_JSON}}
PIPECTL_DATA_JSON
python3 /opt/pipectl/producer.py write-csv /opt/pipectl/data.json
