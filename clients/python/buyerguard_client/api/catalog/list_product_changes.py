from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.change_page import ChangePage
from ...models.error import Error
from ...types import UNSET, Response, Unset


def _get_kwargs(
    product_id: str,
    *,
    after: int | None | Unset = UNSET,
    limit: int | Unset = 50,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_after: int | None | Unset
    if isinstance(after, Unset):
        json_after = UNSET
    else:
        json_after = after
    params["after"] = json_after

    params["limit"] = limit

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/products/{product_id}/changes".format(
            product_id=quote(str(product_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ChangePage | Error | None:
    if response.status_code == 200:
        response_200 = ChangePage.from_dict(response.json())

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[ChangePage | Error]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    product_id: str,
    *,
    client: AuthenticatedClient,
    after: int | None | Unset = UNSET,
    limit: int | Unset = 50,
) -> Response[ChangePage | Error]:
    """List Product Changes

     Every version of the product, oldest first, with the listing rules that accepted it.

    Args:
        product_id (str): product id
        after (int | None | Unset): `next_cursor` of the previous page: a version
        limit (int | Unset): most items on this page Default: 50.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ChangePage | Error]
    """

    kwargs = _get_kwargs(
        product_id=product_id,
        after=after,
        limit=limit,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    product_id: str,
    *,
    client: AuthenticatedClient,
    after: int | None | Unset = UNSET,
    limit: int | Unset = 50,
) -> ChangePage | Error | None:
    """List Product Changes

     Every version of the product, oldest first, with the listing rules that accepted it.

    Args:
        product_id (str): product id
        after (int | None | Unset): `next_cursor` of the previous page: a version
        limit (int | Unset): most items on this page Default: 50.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ChangePage | Error
    """

    return sync_detailed(
        product_id=product_id,
        client=client,
        after=after,
        limit=limit,
    ).parsed


async def asyncio_detailed(
    product_id: str,
    *,
    client: AuthenticatedClient,
    after: int | None | Unset = UNSET,
    limit: int | Unset = 50,
) -> Response[ChangePage | Error]:
    """List Product Changes

     Every version of the product, oldest first, with the listing rules that accepted it.

    Args:
        product_id (str): product id
        after (int | None | Unset): `next_cursor` of the previous page: a version
        limit (int | Unset): most items on this page Default: 50.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ChangePage | Error]
    """

    kwargs = _get_kwargs(
        product_id=product_id,
        after=after,
        limit=limit,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    product_id: str,
    *,
    client: AuthenticatedClient,
    after: int | None | Unset = UNSET,
    limit: int | Unset = 50,
) -> ChangePage | Error | None:
    """List Product Changes

     Every version of the product, oldest first, with the listing rules that accepted it.

    Args:
        product_id (str): product id
        after (int | None | Unset): `next_cursor` of the previous page: a version
        limit (int | Unset): most items on this page Default: 50.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ChangePage | Error
    """

    return (
        await asyncio_detailed(
            product_id=product_id,
            client=client,
            after=after,
            limit=limit,
        )
    ).parsed
