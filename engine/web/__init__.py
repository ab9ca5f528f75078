"""billflow's web pages: one Starlette app, served by the daemon's HTTP surface.

    app.py          create_app(backend): the routes of every page module, the middleware
    settings.py     WebSettings: the signing key, the public URL, cookie and link lifetimes
    signing.py      HMAC-signed, expiring tokens (approval links, sign-in links, sessions)
    auth.py         Viewer, the session cookie, CSRF, `requires_viewer` for pages and APIs
    render.py       the Jinja2 environment and `render(request, template, **context)`
    surface.py      POST /events, GET /healthz, GET /metrics, /webhooks/{connector}
    approval.py     /approve/{token}: the draft, its hours, Approve or Flag
    signin.py       /signin: e-mailed sign-in links and personal tokens

See docs/web.md for the interface page modules rely on.
"""
