"""The browser pages.

Every page reads the same rows as the REST API, scoped the same way (a user sees
their own jobs, model versions and galleries, plus the public demo model), and
every change goes through the API's serializers and the apps' services, so a page
accepts and refuses exactly what the API does.
"""
