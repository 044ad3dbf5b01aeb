def test_demo_city_starts_and_lists_cases_for_admin(client_for):
    client = client_for("admin")
    r = client.get("/caseview/list/")
    assert r.status_code == 200
    assert "Cases" in r.get_data(as_text=True)
