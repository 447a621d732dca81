from django.test import Client


def test_health_check_answers_without_login(db):
    response = Client().get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
