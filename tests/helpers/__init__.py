"""What the tests share: tenants, live servers, real HTTP, browsers, story and share data, the
PostgreSQL cluster, production and load tooling. Test modules import from here (``helpers.x``),
never from each other or from conftest.py; conftest.py holds the fixtures every test can ask for
and registers the fixtures defined here."""
