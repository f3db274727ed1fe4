from tests.outbox.fixtures import center, center_settings, journal, proxy  # noqa: F401
from tests.redis_cluster import local_cluster_fixture  # noqa: F401
from tests.redis_server import fake_redis, redis_server, shared_redis, store  # noqa: F401
