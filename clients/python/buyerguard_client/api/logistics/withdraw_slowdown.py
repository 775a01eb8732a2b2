from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.slowdown_answer import SlowdownAnswer
from ...types import UNSET, Response, Unset


def _get_kwargs(
    slowdown_id: str,
    *,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/logistics/slowdowns/{slowdown_id}/withdraw".format(
            slowdown_id=quote(str(slowdown_id), safe=""),
        ),
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Error | SlowdownAnswer | None:
    if response.status_code == 200:
        response_200 = SlowdownAnswer.from_dict(response.json())

        return response_200

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
    slowdown_id: str,
    *,
    client: AuthenticatedClient,
    idempotency_key: str | Unset = UNSET,
) -> Response[Error | SlowdownAnswer]:
    """Withdraw Slowdown

     Withdraw a slowdown whole: its days count as normal again from the next lookup (a
    withdrawn seed is not seeded again). Withdrawing it twice is a conflict (409).

    Args:
        slowdown_id (str): slowdown id
        idempotency_key (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | SlowdownAnswer]
    """

    kwargs = _get_kwargs(
        slowdown_id=slowdown_id,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    slowdown_id: str,
    *,
    client: AuthenticatedClient,
    idempotency_key: str | Unset = UNSET,
) -> Error | SlowdownAnswer | None:
    """Withdraw Slowdown

     Withdraw a slowdown whole: its days count as normal again from the next lookup (a
    withdrawn seed is not seeded again). Withdrawing it twice is a conflict (409).

    Args:
        slowdown_id (str): slowdown id
        idempotency_key (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | SlowdownAnswer
    """

    return sync_detailed(
        slowdown_id=slowdown_id,
        client=client,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    slowdown_id: str,
    *,
    client: AuthenticatedClient,
    idempotency_key: str | Unset = UNSET,
) -> Response[Error | SlowdownAnswer]:
    """Withdraw Slowdown

     Withdraw a slowdown whole: its days count as normal again from the next lookup (a
    withdrawn seed is not seeded again). Withdrawing it twice is a conflict (409).

    Args:
        slowdown_id (str): slowdown id
        idempotency_key (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | SlowdownAnswer]
    """

    kwargs = _get_kwargs(
        slowdown_id=slowdown_id,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    slowdown_id: str,
    *,
    client: AuthenticatedClient,
    idempotency_key: str | Unset = UNSET,
) -> Error | SlowdownAnswer | None:
    """Withdraw Slowdown

     Withdraw a slowdown whole: its days count as normal again from the next lookup (a
    withdrawn seed is not seeded again). Withdrawing it twice is a conflict (409).

    Args:
        slowdown_id (str): slowdown id
        idempotency_key (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | SlowdownAnswer
    """

    return (
        await asyncio_detailed(
            slowdown_id=slowdown_id,
            client=client,
            idempotency_key=idempotency_key,
        )
    ).parsed
