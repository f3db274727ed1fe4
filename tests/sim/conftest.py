from tests.broker import broker  # noqa: F401 (the fixture, for the MQTT pad tests)
