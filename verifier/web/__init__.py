"""The web console (``hedui console``): server-rendered pages for caseworkers, reviewers
and auditors over the same use cases, roles, regions and audit as the gRPC API.

``app`` builds the aiohttp application; ``signin`` and ``oidc`` say who is signed in;
``guard`` holds sessions, CSRF and the security headers; ``cases`` and ``audit_pages``
are the pages; ``templates/`` and ``static/`` hold the HTML and the only scripts
(plain files, no build step: the Content-Security-Policy allows no inline script).
"""
