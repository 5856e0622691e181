"""Settings of a small Django site (only what the streaming view needs)."""

SECRET_KEY = "only-for-tests"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "mysite.urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE = [
    "django.middleware.gzip.GZipMiddleware",  # compresses whatever the browser accepts
    "django.middleware.common.CommonMiddleware",
]
DATABASES: dict = {}
USE_TZ = True
