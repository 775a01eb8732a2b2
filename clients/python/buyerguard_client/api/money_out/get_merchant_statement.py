from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.statement import Statement
from ...types import Response


def _get_kwargs(
    merchant_id: str,
    month: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/merchants/{merchant_id}/statements/{month}".format(
            merchant_id=quote(str(merchant_id), safe=""),
            month=quote(str(month), safe=""),
        ),
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Error | Statement | None:
    if response.status_code == 200:
        response_200 = Statement.from_dict(response.json())

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Error | Statement]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    merchant_id: str,
    month: str,
    *,
    client: AuthenticatedClient,
) -> Response[Error | Statement]:
    """Get Merchant Statement

     The month's opening balance, releases, fees, refunds, clawbacks, payouts and closing
    balance (what the platform owes the merchant), exact to the ledger.

    Args:
        merchant_id (str): merchant id
        month (str): Shanghai month, YYYY-MM

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Statement]
    """

    kwargs = _get_kwargs(
        merchant_id=merchant_id,
        month=month,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    merchant_id: str,
    month: str,
    *,
    client: AuthenticatedClient,
) -> Error | Statement | None:
    """Get Merchant Statement

     The month's opening balance, releases, fees, refunds, clawbacks, payouts and closing
    balance (what the platform owes the merchant), exact to the ledger.

    Args:
        merchant_id (str): merchant id
        month (str): Shanghai month, YYYY-MM

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Statement
    """

    return sync_detailed(
        merchant_id=merchant_id,
        month=month,
        client=client,
    ).parsed


async def asyncio_detailed(
    merchant_id: str,
    month: str,
    *,
    client: AuthenticatedClient,
) -> Response[Error | Statement]:
    """Get Merchant Statement

     The month's opening balance, releases, fees, refunds, clawbacks, payouts and closing
    balance (what the platform owes the merchant), exact to the ledger.

    Args:
        merchant_id (str): merchant id
        month (str): Shanghai month, YYYY-MM

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Statement]
    """

    kwargs = _get_kwargs(
        merchant_id=merchant_id,
        month=month,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    merchant_id: str,
    month: str,
    *,
    client: AuthenticatedClient,
) -> Error | Statement | None:
    """Get Merchant Statement

     The month's opening balance, releases, fees, refunds, clawbacks, payouts and closing
    balance (what the platform owes the merchant), exact to the ledger.

    Args:
        merchant_id (str): merchant id
        month (str): Shanghai month, YYYY-MM

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Statement
    """

    return (
        await asyncio_detailed(
            merchant_id=merchant_id,
            month=month,
            client=client,
        )
    ).parsed
