"""Where uploaded files live: a small interface with two stores.

- ``local`` (the default): files under ``<data dir>/uploads/``, in folders named by the first two characters of
  their generated name; written to a temporary file, flushed, then renamed (nobody reads half a file). Several app
  servers share it on a network disk.
- ``s3``: an S3-compatible bucket (AWS S3, MinIO, Ceph, a cloud's object storage), for installs with several app
  servers and no shared disk.  ``[attachments] s3_bucket`` (required), ``s3_endpoint_url`` (for a non-AWS store),
  ``s3_region``, ``s3_prefix`` (a folder in the bucket).  Credentials come from the environment
  (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``) or the server's role, never from the config file.  Needs
  ``boto3`` (``pip install 'civic-connect[s3]'``).  Tested against moto's S3 server, not against AWS itself.

Files are known by their generated names only (``core.services.attachments.STORED_NAME``): a name never comes
from a user.  Every store has the same five operations; ``open`` gives a binary file object to stream back.
"""
from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any, Protocol

from flask import current_app


class FileStore(Protocol):
    def write(self, name: str, data: bytes) -> None: ...
    def open(self, name: str) -> IO[bytes]: ...  # FileNotFoundError when the store has no such file
    def exists(self, name: str) -> bool: ...
    def delete(self, name: str) -> None: ...  # a file already gone is fine
    def copy(self, source: str, target: str) -> None: ...


class LocalStore:
    """Files on a disk (local or shared by the app servers)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, name: str) -> Path:
        return self.root / name[:2] / name

    def write(self, name: str, data: bytes) -> None:
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def open(self, name: str) -> IO[bytes]:
        return open(self.path(name), "rb")

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def delete(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)

    def copy(self, source: str, target: str) -> None:
        """A hard link where the disk allows it (no second copy of a photo), else a copy."""
        src, dst = self.path(source), self.path(target)
        if not src.is_file():
            raise FileNotFoundError(source)
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dst)
        except OSError:
            shutil.copyfile(src, dst)


class S3Store:
    """Files in an S3-compatible bucket."""

    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None, region: str | None = None, client: Any = None):
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        if client is None:
            import boto3

            client = boto3.client("s3", endpoint_url=endpoint_url or None, region_name=region or None)
        self.client = client

    def key(self, name: str) -> str:
        return f"{self.prefix}{name[:2]}/{name}"

    def _missing(self, exc: Exception) -> bool:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        return code in ("404", "NoSuchKey", "NotFound")

    def write(self, name: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.key(name), Body=data)

    def open(self, name: str) -> IO[bytes]:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.key(name))
        except Exception as exc:  # botocore's ClientError, without importing botocore where S3 is not used
            if self._missing(exc):
                raise FileNotFoundError(name) from None
            raise
        with answer["Body"] as body:
            return io.BytesIO(body.read())  # photos and documents are at most CIVIC_UPLOAD_MAX_BYTES

    def exists(self, name: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(name))
        except Exception as exc:
            if self._missing(exc):
                return False
            raise
        return True

    def delete(self, name: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key(name))

    def copy(self, source: str, target: str) -> None:
        if not self.exists(source):
            raise FileNotFoundError(source)
        self.client.copy_object(Bucket=self.bucket, Key=self.key(target), CopySource={"Bucket": self.bucket, "Key": self.key(source)})


def build_store(settings: dict[str, Any], upload_dir: str | os.PathLike) -> FileStore:
    """The store ``[attachments]`` asks for."""
    if settings.get("store", "local") == "s3":
        return S3Store(settings["s3_bucket"], settings.get("s3_prefix") or "", settings.get("s3_endpoint_url"), settings.get("s3_region"))
    return LocalStore(Path(upload_dir))


def file_store() -> FileStore:
    """This app's store (built once per app)."""
    app = current_app._get_current_object()
    store = app.extensions.get("civic_file_store")
    if store is None or getattr(store, "_for_dir", None) != app.config["CIVIC_UPLOAD_DIR"]:
        store = build_store(app.extensions["civic"].config.attachments, app.config["CIVIC_UPLOAD_DIR"])
        store._for_dir = app.config["CIVIC_UPLOAD_DIR"]  # tests point an app at another folder: build it again
        app.extensions["civic_file_store"] = store
    return store
