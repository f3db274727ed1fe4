from tests.center.fixtures import settings  # noqa: F401
from tests.console.fixtures import console, people  # noqa: F401
from tests.console.live import chromium  # noqa: F401
from tests.redis_cluster import local_cluster_fixture  # noqa: F401
from tests.redis_server import fake_redis, redis_server, shared_redis, store  # noqa: F401
