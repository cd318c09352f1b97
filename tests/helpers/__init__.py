"""What the tests share that is not a fixture: builders of hand-made run directories, a fake Kafka
log, the Docker tier's cluster shapes and waits, the ledger golden test's script, a pytester project
for the pytest plugin's tests. Tests import these from here, never from another test module or a
conftest; fixtures stay in the conftest.py files."""
