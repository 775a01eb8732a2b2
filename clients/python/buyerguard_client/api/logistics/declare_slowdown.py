from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.slowdown_answer import SlowdownAnswer
from ...models.slowdown_in import SlowdownIn
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: SlowdownIn,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/logistics/slowdowns",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Error | SlowdownAnswer | None:
    if response.status_code == 201:
        response_201 = SlowdownAnswer.from_dict(response.json())

        return response_201

    if response.status_code == 401:
        response_401 = Error.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Error.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = Error.from_dict(response.json())

        return response_404

    if response.status_code == 409:
        response_409 = Error.from_dict(response.json())

        return response_409

    if response.status_code == 422:
        response_422 = Error.from_dict(response.json())

        return response_422

    if response.status_code == 503:
        response_503 = Error.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | SlowdownAnswer]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: SlowdownIn,
    idempotency_key: str | Unset = UNSET,
) -> Response[Error | SlowdownAnswer]:
    """Declare Slowdown

     Declare days on which every carrier slows (a Double 11 peak): promises whose span
    touches them step over them as over a public holiday and show no label, from the next
    lookup in every API worker; the next build learns around them. The Spring Festival's
    slowdown is seeded every year from the rulebook.

    Args:
        idempotency_key (str | Unset):
        body (SlowdownIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | SlowdownAnswer]
    """

    kwargs = _get_kwargs(
        body=body,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: SlowdownIn,
    idempotency_key: str | Unset = UNSET,
) -> Error | SlowdownAnswer | None:
    """Declare Slowdown

     Declare days on which every carrier slows (a Double 11 peak): promises whose span
    touches them step over them as over a public holiday and show no label, from the next
    lookup in every API worker; the next build learns around them. The Spring Festival's
    slowdown is seeded every year from the rulebook.

    Args:
        idempotency_key (str | Unset):
        body (SlowdownIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | SlowdownAnswer
    """

    return sync_detailed(
        client=client,
        body=body,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: SlowdownIn,
    idempotency_key: str | Unset = UNSET,
) -> Response[Error | SlowdownAnswer]:
    """Declare Slowdown

     Declare days on which every carrier slows (a Double 11 peak): promises whose span
    touches them step over them as over a public holiday and show no label, from the next
    lookup in every API worker; the next build learns around them. The Spring Festival's
    slowdown is seeded every year from the rulebook.

    Args:
        idempotency_key (str | Unset):
        body (SlowdownIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | SlowdownAnswer]
    """

    kwargs = _get_kwargs(
        body=body,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: SlowdownIn,
    idempotency_key: str | Unset = UNSET,
) -> Error | SlowdownAnswer | None:
    """Declare Slowdown

     Declare days on which every carrier slows (a Double 11 peak): promises whose span
    touches them step over them as over a public holiday and show no label, from the next
    lookup in every API worker; the next build learns around them. The Spring Festival's
    slowdown is seeded every year from the rulebook.

    Args:
        idempotency_key (str | Unset):
        body (SlowdownIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | SlowdownAnswer
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed
