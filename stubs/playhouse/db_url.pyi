from typing import Any

from peewee import Database

def connect(
    url: str, unquote_password: bool = False, unquote_user: bool = False, **connect_params: Any
) -> Database: ...
