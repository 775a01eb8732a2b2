from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.account_page import AccountPage
from ...models.error import Error
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    party: None | str | Unset = UNSET,
    after: None | str | Unset = UNSET,
    limit: int | Unset = 100,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_party: None | str | Unset
    if isinstance(party, Unset):
        json_party = UNSET
    else:
        json_party = party
    params["party"] = json_party

    json_after: None | str | Unset
    if isinstance(after, Unset):
        json_after = UNSET
    else:
        json_after = after
    params["after"] = json_after

    params["limit"] = limit

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/ledger/accounts",
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> AccountPage | Error | None:
    if response.status_code == 200:
        response_200 = AccountPage.from_dict(response.json())

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[AccountPage | Error]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    party: None | str | Unset = UNSET,
    after: None | str | Unset = UNSET,
    limit: int | Unset = 100,
) -> Response[AccountPage | Error]:
    """List Ledger Accounts

     Accounts by id with their balances, party and purpose; a merchant lists its own.

    Args:
        party (None | str | Unset): only this party's accounts, e.g. merchant:M1 or platform
        after (None | str | Unset): `next_cursor` of the previous page: an account id
        limit (int | Unset): most items on this page Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AccountPage | Error]
    """

    kwargs = _get_kwargs(
        party=party,
        after=after,
        limit=limit,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    party: None | str | Unset = UNSET,
    after: None | str | Unset = UNSET,
    limit: int | Unset = 100,
) -> AccountPage | Error | None:
    """List Ledger Accounts

     Accounts by id with their balances, party and purpose; a merchant lists its own.

    Args:
        party (None | str | Unset): only this party's accounts, e.g. merchant:M1 or platform
        after (None | str | Unset): `next_cursor` of the previous page: an account id
        limit (int | Unset): most items on this page Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AccountPage | Error
    """

    return sync_detailed(
        client=client,
        party=party,
        after=after,
        limit=limit,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    party: None | str | Unset = UNSET,
    after: None | str | Unset = UNSET,
    limit: int | Unset = 100,
) -> Response[AccountPage | Error]:
    """List Ledger Accounts

     Accounts by id with their balances, party and purpose; a merchant lists its own.

    Args:
        party (None | str | Unset): only this party's accounts, e.g. merchant:M1 or platform
        after (None | str | Unset): `next_cursor` of the previous page: an account id
        limit (int | Unset): most items on this page Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AccountPage | Error]
    """

    kwargs = _get_kwargs(
        party=party,
        after=after,
        limit=limit,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    party: None | str | Unset = UNSET,
    after: None | str | Unset = UNSET,
    limit: int | Unset = 100,
) -> AccountPage | Error | None:
    """List Ledger Accounts

     Accounts by id with their balances, party and purpose; a merchant lists its own.

    Args:
        party (None | str | Unset): only this party's accounts, e.g. merchant:M1 or platform
        after (None | str | Unset): `next_cursor` of the previous page: an account id
        limit (int | Unset): most items on this page Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AccountPage | Error
    """

    return (
        await asyncio_detailed(
            client=client,
            party=party,
            after=after,
            limit=limit,
        )
    ).parsed
