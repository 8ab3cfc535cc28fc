"""The web console (``hedui console``): server-rendered pages for caseworkers, reviewers
and auditors over the same use cases, roles, regions and audit as the gRPC API.

``app`` builds the aiohttp application; ``signin`` and ``oidc`` say who is signed in;
``guard`` holds sessions, CSRF and the security headers; the pages are ``cases`` (find
and watch a check), ``report_pages`` (the printable report, its PDF, what changed),
``audit_pages`` (the auditor's) and ``printout_check`` (a printout against its report
file). ``templates/`` and ``static/`` hold the HTML and the only scripts (plain files,
no build step: the Content-Security-Policy allows no inline script).
"""
