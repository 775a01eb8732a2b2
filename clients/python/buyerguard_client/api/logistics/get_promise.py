from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.promise import Promise
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    product_id: str,
    destination: str,
    paid_at: None | str | Unset = UNSET,
    carrier: None | str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["product_id"] = product_id

    params["destination"] = destination

    json_paid_at: None | str | Unset
    if isinstance(paid_at, Unset):
        json_paid_at = UNSET
    else:
        json_paid_at = paid_at
    params["paid_at"] = json_paid_at

    json_carrier: None | str | Unset
    if isinstance(carrier, Unset):
        json_carrier = UNSET
    else:
        json_carrier = carrier
    params["carrier"] = json_carrier

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/promises",
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Error | Promise | None:
    if response.status_code == 200:
        response_200 = Promise.from_dict(response.json())

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Error | Promise]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    product_id: str,
    destination: str,
    paid_at: None | str | Unset = UNSET,
    carrier: None | str | Unset = UNSET,
) -> Response[Error | Promise]:
    """Get Promise

     Arrival promise (预计达) for a product shipped to a destination, paid at an instant.

    Args:
        product_id (str): the product bought (its merchant, origin and handling)
        destination (str): GB/T 2260 district code
        paid_at (None | str | Unset): ISO-8601 instant with offset, or a Shanghai date;
            1900-01-01T00:00:00Z to before 2200-01-01T00:00:00Z
        carrier (None | str | Unset): the carrier, when known

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Promise]
    """

    kwargs = _get_kwargs(
        product_id=product_id,
        destination=destination,
        paid_at=paid_at,
        carrier=carrier,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    product_id: str,
    destination: str,
    paid_at: None | str | Unset = UNSET,
    carrier: None | str | Unset = UNSET,
) -> Error | Promise | None:
    """Get Promise

     Arrival promise (预计达) for a product shipped to a destination, paid at an instant.

    Args:
        product_id (str): the product bought (its merchant, origin and handling)
        destination (str): GB/T 2260 district code
        paid_at (None | str | Unset): ISO-8601 instant with offset, or a Shanghai date;
            1900-01-01T00:00:00Z to before 2200-01-01T00:00:00Z
        carrier (None | str | Unset): the carrier, when known

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Promise
    """

    return sync_detailed(
        client=client,
        product_id=product_id,
        destination=destination,
        paid_at=paid_at,
        carrier=carrier,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    product_id: str,
    destination: str,
    paid_at: None | str | Unset = UNSET,
    carrier: None | str | Unset = UNSET,
) -> Response[Error | Promise]:
    """Get Promise

     Arrival promise (预计达) for a product shipped to a destination, paid at an instant.

    Args:
        product_id (str): the product bought (its merchant, origin and handling)
        destination (str): GB/T 2260 district code
        paid_at (None | str | Unset): ISO-8601 instant with offset, or a Shanghai date;
            1900-01-01T00:00:00Z to before 2200-01-01T00:00:00Z
        carrier (None | str | Unset): the carrier, when known

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Promise]
    """

    kwargs = _get_kwargs(
        product_id=product_id,
        destination=destination,
        paid_at=paid_at,
        carrier=carrier,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    product_id: str,
    destination: str,
    paid_at: None | str | Unset = UNSET,
    carrier: None | str | Unset = UNSET,
) -> Error | Promise | None:
    """Get Promise

     Arrival promise (预计达) for a product shipped to a destination, paid at an instant.

    Args:
        product_id (str): the product bought (its merchant, origin and handling)
        destination (str): GB/T 2260 district code
        paid_at (None | str | Unset): ISO-8601 instant with offset, or a Shanghai date;
            1900-01-01T00:00:00Z to before 2200-01-01T00:00:00Z
        carrier (None | str | Unset): the carrier, when known

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Promise
    """

    return (
        await asyncio_detailed(
            client=client,
            product_id=product_id,
            destination=destination,
            paid_at=paid_at,
            carrier=carrier,
        )
    ).parsed
