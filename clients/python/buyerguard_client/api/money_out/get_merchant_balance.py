from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.merchant_balance import MerchantBalance
from ...types import Response


def _get_kwargs(
    merchant_id: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/merchants/{merchant_id}/balance".format(
            merchant_id=quote(str(merchant_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | MerchantBalance | None:
    if response.status_code == 200:
        response_200 = MerchantBalance.from_dict(response.json())

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
) -> Response[Error | MerchantBalance]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    merchant_id: str,
    *,
    client: AuthenticatedClient,
) -> Response[Error | MerchantBalance]:
    """Get Merchant Balance

     In escrow, payable, reserved, in flight, paid out to date and debt, from the ledger.

    Args:
        merchant_id (str): merchant id

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | MerchantBalance]
    """

    kwargs = _get_kwargs(
        merchant_id=merchant_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    merchant_id: str,
    *,
    client: AuthenticatedClient,
) -> Error | MerchantBalance | None:
    """Get Merchant Balance

     In escrow, payable, reserved, in flight, paid out to date and debt, from the ledger.

    Args:
        merchant_id (str): merchant id

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | MerchantBalance
    """

    return sync_detailed(
        merchant_id=merchant_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    merchant_id: str,
    *,
    client: AuthenticatedClient,
) -> Response[Error | MerchantBalance]:
    """Get Merchant Balance

     In escrow, payable, reserved, in flight, paid out to date and debt, from the ledger.

    Args:
        merchant_id (str): merchant id

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | MerchantBalance]
    """

    kwargs = _get_kwargs(
        merchant_id=merchant_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    merchant_id: str,
    *,
    client: AuthenticatedClient,
) -> Error | MerchantBalance | None:
    """Get Merchant Balance

     In escrow, payable, reserved, in flight, paid out to date and debt, from the ledger.

    Args:
        merchant_id (str): merchant id

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | MerchantBalance
    """

    return (
        await asyncio_detailed(
            merchant_id=merchant_id,
            client=client,
        )
    ).parsed
