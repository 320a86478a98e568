"""One local SparkSession for every test that needs Spark (starting one costs seconds).

Test modules import the fixture (``from spark_fixture import spark_session``); pytest puts
``tests/`` on ``sys.path`` because ``tests/conftest.py`` lives there. The fixture is named
``spark`` so tests simply take a ``spark`` argument.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.fixture(scope="session", name="spark")
def spark_session() -> Iterator[SparkSession]:
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("dualloop-tests")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.extraJavaOptions", "-XX:+UseSerialGC -XX:TieredStopAtLevel=1")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    # Left running: another module in the session may still hold it (getOrCreate shares it).
