"""The web shell: health, pages, error pages, the API docs."""


def test_healthz_reports_each_part_and_its_mode(client):
    from app.config import get_settings

    settings = get_settings()
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == {"kind": settings.database_kind, "ok": True}
    assert body["broker"] == {"kind": settings.broker_kind, "ok": True}
    assert body["mail"] == "smtp"


def test_home_page_uses_the_local_stylesheet(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    assert "/static/style.css" in response.text
    assert "https://" not in response.text.split("<body")[0]  # no CDN in the head
    assert client.get("/static/style.css").status_code == 200


def test_unknown_pages_get_a_friendly_404(client):
    response = client.get("/no/such/page", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert "We could not find that page" in response.text
    api = client.get("/api/v1/nothing-here")
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}


def test_openapi_docs_are_served(client):
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert schema["info"]["title"] == "Co-op Data Club"
    assert "/healthz" in schema["paths"]


def test_input_the_database_cannot_store_is_a_422_not_a_500(client):
    """PostgreSQL refuses NUL characters in text; SQLite stores them. Either way the
    person gets an answer, never a 500."""
    response = client.get("/api/v1/members", params={"q": "\x00"})
    assert response.status_code in (200, 422)
    if response.status_code == 422:
        assert "cannot be stored" in response.json()["detail"]


def test_no_handler_that_uses_the_database_blocks_the_event_loop():
    """A handler that takes a database session does synchronous work: as `async def` it
    would run on the event loop and stall every other request while it waits (a 5,000-row
    import once did). Such handlers are plain `def`, which FastAPI runs in a thread, and
    read a form through a dependency (app.members.forms.FormDep); or they await their
    work in a thread (`run_in_threadpool`)."""
    import inspect

    from fastapi.routing import APIRoute, iter_route_contexts

    from app.db import get_session
    from app.main import create_app

    def calls(route: APIRoute) -> set:
        pending, seen = list(route.dependant.dependencies), set()
        while pending:
            dependency = pending.pop()
            seen.add(dependency.call)
            pending.extend(dependency.dependencies)
        return seen

    routes = [context.original_route for context in iter_route_contexts(create_app().routes)]
    assert len(routes) > 100  # every router's routes, not only the app's own
    blocking = sorted(
        f"{route.path} ({route.endpoint.__module__}.{route.endpoint.__name__})"
        for route in routes
        if isinstance(route, APIRoute)
        and inspect.iscoroutinefunction(route.endpoint)
        and get_session in calls(route)
        # An async handler that reads the raw body first, then does its work in a thread.
        and "await run_in_threadpool(" not in inspect.getsource(route.endpoint)
    )
    assert blocking == []

    # The same for dependencies: an async one that takes the session (the app-wide
    # `optional_account`) does its queries in a thread.
    def session_users(route: APIRoute) -> set:
        pending, found = list(route.dependant.dependencies), set()
        while pending:
            dependency = pending.pop()
            if any(d.call is get_session for d in dependency.dependencies):
                found.add(dependency.call)
            pending.extend(dependency.dependencies)
        return found

    async_users = {
        call
        for route in routes
        if isinstance(route, APIRoute)
        for call in session_users(route)
        if inspect.iscoroutinefunction(call)
    }
    assert async_users  # optional_account, on every route
    assert [
        call.__qualname__
        for call in async_users
        if "await run_in_threadpool(" not in inspect.getsource(call)
    ] == []


def test_every_route_is_the_first_to_match_its_own_paths():
    """FastAPI tries routes in order (app/main.py puts the busiest first): a route whose
    paths an earlier one also matched would never be reached."""
    import re

    from fastapi.routing import APIRoute, iter_route_contexts
    from starlette.routing import Match

    from app.main import create_app

    routes = [
        context.original_route
        for context in iter_route_contexts(create_app().routes)
        if isinstance(context.original_route, APIRoute)
    ]
    assert len(routes) > 100
    shadowed = []
    for route in routes:
        path = re.sub(r"\{[^}]+\}", "zz9", route.path)  # each parameter given a value
        for method in route.methods:
            scope = {"type": "http", "method": method, "path": path, "root_path": ""}
            first = next(r for r in routes if r.matches(scope)[0] == Match.FULL)
            if first is not route:
                shadowed.append(f"{method} {route.path} is taken by {first.path}")
    assert shadowed == []
