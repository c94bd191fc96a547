"""`monitor serve`: the web pages and JSON API over the inbox, outputs and history of `monitor
batch` (docs/web.md, issue 17).

    app.py             create_app(): middleware (security headers, body limit, signed sessions)
    auth.py            argon2 password hashes, CSRF tokens, session and bearer-token users
    store.py           users, sites, API tokens, page ids of workbooks, the web audit trail (SQLite)
    jobs.py            the bounded queue and the dispatcher running the batch Runner off the request thread
    upload.py          an upload from the request to INBOX/<site>/ with check's refusals
    views.py           findings (grouped as the text output), queries, site summaries for the pages
    pages.py           rendering (Jinja2, autoescape) and the access checks every route uses
    routes_pages.py    log in/out, sites, a site, a workbook
    routes_actions.py  upload, accept / query / respond, downloads
    api.py             the JSON API (bearer tokens)
"""
