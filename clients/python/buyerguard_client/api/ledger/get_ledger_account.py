from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.account_answer import AccountAnswer
from ...models.error import Error
from ...types import Response


def _get_kwargs(
    account_id: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/ledger/accounts/{account_id}".format(
            account_id=quote(str(account_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> AccountAnswer | Error | None:
    if response.status_code == 200:
        response_200 = AccountAnswer.from_dict(response.json())

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
) -> Response[AccountAnswer | Error]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    account_id: str,
    *,
    client: AuthenticatedClient,
) -> Response[AccountAnswer | Error]:
    """Get Ledger Account

     One account's balances; a merchant reads its own `merchant:{id}:*` accounts only.

    A split account named without its part (`platform:fee_revenue`) answers the
    sum of its parts, with each part under `parts` (the parts touched so far: none, and
    zero, on a ledger that has not used it yet — it is in everyone's chart of accounts).

    Args:
        account_id (str): ledger account, e.g. merchant:M1:payable

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AccountAnswer | Error]
    """

    kwargs = _get_kwargs(
        account_id=account_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    account_id: str,
    *,
    client: AuthenticatedClient,
) -> AccountAnswer | Error | None:
    """Get Ledger Account

     One account's balances; a merchant reads its own `merchant:{id}:*` accounts only.

    A split account named without its part (`platform:fee_revenue`) answers the
    sum of its parts, with each part under `parts` (the parts touched so far: none, and
    zero, on a ledger that has not used it yet — it is in everyone's chart of accounts).

    Args:
        account_id (str): ledger account, e.g. merchant:M1:payable

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AccountAnswer | Error
    """

    return sync_detailed(
        account_id=account_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    account_id: str,
    *,
    client: AuthenticatedClient,
) -> Response[AccountAnswer | Error]:
    """Get Ledger Account

     One account's balances; a merchant reads its own `merchant:{id}:*` accounts only.

    A split account named without its part (`platform:fee_revenue`) answers the
    sum of its parts, with each part under `parts` (the parts touched so far: none, and
    zero, on a ledger that has not used it yet — it is in everyone's chart of accounts).

    Args:
        account_id (str): ledger account, e.g. merchant:M1:payable

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AccountAnswer | Error]
    """

    kwargs = _get_kwargs(
        account_id=account_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    account_id: str,
    *,
    client: AuthenticatedClient,
) -> AccountAnswer | Error | None:
    """Get Ledger Account

     One account's balances; a merchant reads its own `merchant:{id}:*` accounts only.

    A split account named without its part (`platform:fee_revenue`) answers the
    sum of its parts, with each part under `parts` (the parts touched so far: none, and
    zero, on a ledger that has not used it yet — it is in everyone's chart of accounts).

    Args:
        account_id (str): ledger account, e.g. merchant:M1:payable

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AccountAnswer | Error
    """

    return (
        await asyncio_detailed(
            account_id=account_id,
            client=client,
        )
    ).parsed
