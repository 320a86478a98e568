"""``dualloop invoke``: send a request to the endpoint and print the predictions.

    dualloop invoke --body "61.42,online_retail,6,34.9,2,3,0.9736,1"
    dualloop invoke --file rows.csv
    dualloop invoke --file records.json --content-type application/json

It talks to the cloud ``AWS_ENDPOINT_URL`` names; without one, to the local cloud that
``dualloop local up`` runs (there is no point starting one here: it would hold no endpoint);
real AWS only with ``DUALLOOP_TARGET=aws``. The predictions go to stdout, which fleet
answered to stderr.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from shared.cli_support import console
from shared.target import Target


def invoke(
    endpoint: Annotated[
        str | None, typer.Option(help="Endpoint name (default: the configured endpoint).")
    ] = None,
    file: Annotated[Path | None, typer.Option(help="Read the request body from this file.")] = None,
    body: Annotated[str | None, typer.Option(help="The request body itself.")] = None,
    content_type: Annotated[str, typer.Option(help="text/csv or application/json.")] = "text/csv",
) -> None:
    """Invoke the endpoint with a CSV or JSON body and print its predictions."""
    payload = _payload(file, body)
    name = endpoint or _default_endpoint()
    client = _runtime_client()
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response: Any = client.invoke_endpoint(EndpointName=name, Body=payload, ContentType=content_type)
    except ClientError as exc:
        message, code = _refusal(exc, name)
        console.print(escape(message), style="red")
        raise typer.Exit(code) from None
    except BotoCoreError as exc:
        from shared.user_errors import explain

        known = explain(exc)
        if known is None:
            raise
        console.print(escape(known.message), style="red")
        raise typer.Exit(known.exit_code) from None
    typer.echo(response["Body"].read().decode().rstrip("\n"))
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    served_by = headers.get("x-dualloop-endpoint-config")
    console.print(
        f"[dim]{name} / {response.get('InvokedProductionVariant', '?')}"
        + (f" / endpoint config {served_by}" if served_by else "")
        + "[/dim]"
    )


def _refusal(exc: Any, name: str) -> tuple[str, int]:
    """What an InvokeEndpoint error means for the user, and the exit code."""
    from shared.user_errors import explain

    error = exc.response.get("Error", {})
    code, message = error.get("Code", ""), str(error.get("Message", exc))
    if code == "ValidationError" and "not found" in message:
        return f"endpoint {name} not found: deploy one first (dualloop run), or pass --endpoint", 1
    if code == "ModelError":
        status = int(exc.response.get("OriginalStatusCode") or 0)
        original = str(exc.response.get("OriginalMessage") or message)
        try:
            original = str(json.loads(original).get("message", original))
        except (ValueError, AttributeError):
            pass
        if 400 <= status < 500:  # the model refused this request
            return f"endpoint {name} refused the request ({original}): fix the body and send it again", 2
        return f"the model behind endpoint {name} failed on this request: {message}", 1
    known = explain(exc)
    if known is not None:
        return known.message, known.exit_code
    return f"{code}: {message}", 1


def _payload(file: Path | None, body: str | None) -> bytes:
    if (file is None) == (body is None):
        console.print("[red]give the request as exactly one of --file or --body[/red]")
        raise typer.Exit(2)
    if body is not None:
        data = body.encode()
    else:
        assert file is not None
        try:
            data = file.read_bytes()
        except OSError as exc:
            console.print(
                f"[red]cannot read {file}[/red] ({exc.strerror or exc}): check the path and run again"
            )
            raise typer.Exit(2) from None
    if not data.strip():
        console.print("[red]the request body is empty[/red]: give feature values with --body or --file")
        raise typer.Exit(2)
    return data


def _default_endpoint() -> str:
    from shared.config import ConfigError, load_config
    from shared.naming import Names
    from shared.user_errors import describe_config_error

    try:
        return Names(load_config()).endpoint
    except ConfigError as exc:
        console.print(escape(describe_config_error(exc)), style="red")
        raise typer.Exit(2) from None


def _runtime_client() -> Any:
    import boto3

    if Target.current().is_named:
        return boto3.client("sagemaker-runtime")
    from shared.local_cloud.cli import read_state

    env = read_state()
    if env is None:
        console.print(
            "[red]no local cloud is running[/red]: start one with `dualloop local up` "
            "(or set DUALLOOP_TARGET=aws to use AWS)"
        )
        raise typer.Exit(1)
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def register(app: typer.Typer) -> None:
    """``dualloop invoke`` (entry point ``dualloop.commands`` ``invoke``)."""
    app.command("invoke")(invoke)
