"""Attachments in an S3-compatible bucket (``[attachments] store = "s3"``), for installs whose app servers share no
disk: a staff member's photo goes to the bucket (with its thumbnail), nothing to the local uploads folder, and comes
back through the same screens; a crew's check-off photo is copied onto a case inside the bucket.  The bucket is a
real S3 endpoint over HTTP on 127.0.0.1 (moto's server); AWS itself is not tested."""
from __future__ import annotations

import io
import os
import shutil
import uuid
from pathlib import Path

import boto3  # the test extra (make install); a missing one is an install defect, never a skip
import moto.server as moto_server
import pytest
from PIL import Image

from bench.server import free_port
from tests.conftest import DEMO_CONFIG, PASSWORD, build_app, login, prepare_database


BUCKET = "civic-attachments"


@pytest.fixture(scope="module")
def endpoint():
    credentials = {"AWS_ACCESS_KEY_ID": "civic-test", "AWS_SECRET_ACCESS_KEY": "civic-test-secret", "AWS_DEFAULT_REGION": "us-east-1"}
    saved = {name: os.environ.get(name) for name in credentials}
    os.environ.update(credentials)  # what the server's environment (or its role) gives in production
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=url).create_bucket(Bucket=BUCKET)
    yield url
    server.stop()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="module")
def s3_app(endpoint, tmp_path_factory, database_url):
    tmp = tmp_path_factory.mktemp("s3city")
    shutil.copytree(DEMO_CONFIG.parent, tmp / "config")
    config = tmp / "config" / "city.toml"
    config.write_text(DEMO_CONFIG.read_text(encoding="utf-8")
                      + f'\n[attachments]\nstore = "s3"\ns3_bucket = "{BUCKET}"\ns3_endpoint_url = "{endpoint}"\ns3_prefix = "palm-coast"\n',
                      encoding="utf-8")
    app = build_app(database_url, config, CIVIC_UPLOAD_DIR=str(tmp / "uploads"))
    prepare_database(app)
    from core.extensions import db
    from core.models import Department
    from core.services.users import create_user

    with app.app_context():
        pw = db.session.query(Department).filter_by(code="PW").one()
        create_user("s3_staff", PASSWORD, "Department staff", email="s3_staff@palmcoast.example.gov", departments=[pw])
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def objects(endpoint: str) -> dict[str, bytes]:
    client = boto3.client("s3", endpoint_url=endpoint)
    listed = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listed}


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 120, 40)).save(out, "JPEG")
    return out.getvalue()


def test_a_photo_goes_to_the_bucket_and_comes_back_through_the_case_screens(s3_app, endpoint, tmp_path):
    from core.extensions import db
    from core.models import Attachment
    from core.services.cases import create_case

    with s3_app.app_context():
        case = create_case(db.session, service_code="POTHOLE", description=f"s3 {uuid.uuid4().hex[:6]}", lat=29.55, long=-81.2,
                           attributes={"SIZE": "small"})
        case_id = case.id
    staff = login(s3_app.test_client(), "s3_staff")
    page = staff.get(f"/caseview/show/{case_id}").get_data(as_text=True)
    token = page.split('name="csrf_token"', 1)[1].split('value="', 1)[1].split('"', 1)[0]
    answer = staff.post(f"/attachments/case/{case_id}", data={"file": (io.BytesIO(photo()), "pothole.jpg"), "csrf_token": token},
                        content_type="multipart/form-data")
    assert answer.status_code in (302, 303), answer.get_data(as_text=True)[:500]
    with s3_app.app_context():
        attachment = db.session.query(Attachment).filter_by(case_id=case_id).one()
        stored, attachment_id = attachment.stored_name, attachment.id
    in_bucket = objects(endpoint)
    key = f"palm-coast/{stored[:2]}/{stored}"
    assert key in in_bucket and key.replace(".jpg", "_thumb.jpg") in in_bucket  # the photo and its thumbnail
    assert not Path(s3_app.config["CIVIC_UPLOAD_DIR"]).exists() or not any(Path(s3_app.config["CIVIC_UPLOAD_DIR"]).rglob("*.jpg"))
    download = staff.get(f"/attachments/{attachment_id}")
    assert download.status_code == 200 and download.data == in_bucket[key]
    assert staff.get(f"/attachments/{attachment_id}/thumbnail").data == in_bucket[key.replace(".jpg", "_thumb.jpg")]


def test_the_store_reads_writes_copies_and_deletes_by_generated_name(s3_app, endpoint):
    from core.storage import S3Store, file_store

    with s3_app.app_context():
        store = file_store()
        assert isinstance(store, S3Store)
        name = f"{uuid.uuid4().hex}.pdf"
        copy = f"{uuid.uuid4().hex}.pdf"
        store.write(name, b"%PDF-1.4 a city form")
        assert store.exists(name) and not store.exists(copy)
        store.copy(name, copy)
        with store.open(copy) as fh:
            assert fh.read() == b"%PDF-1.4 a city form"
        store.delete(name)
        assert not store.exists(name) and store.exists(copy)
        with pytest.raises(FileNotFoundError):
            store.open(name)
        store.delete(name)  # already gone: fine


def test_an_s3_store_without_a_bucket_is_one_config_line(tmp_path):
    from core.config import ConfigError, load_city_config

    shutil.copytree(DEMO_CONFIG.parent, tmp_path / "config")
    config = tmp_path / "config" / "city.toml"
    config.write_text(DEMO_CONFIG.read_text(encoding="utf-8") + '\n[attachments]\nstore = "s3"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_city_config(config)
    assert any("attachments.s3_bucket: is required when store = \"s3\"" in line for line in refused.value.lines)
