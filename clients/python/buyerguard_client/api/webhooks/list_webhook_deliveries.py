from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.webhook_delivery_page import WebhookDeliveryPage
from ...types import UNSET, Response, Unset


def _get_kwargs(
    endpoint_id: str,
    *,
    before: int | None | Unset = UNSET,
    limit: int | Unset = 100,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_before: int | None | Unset
    if isinstance(before, Unset):
        json_before = UNSET
    else:
        json_before = before
    params["before"] = json_before

    params["limit"] = limit

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/webhook-endpoints/{endpoint_id}/deliveries".format(
            endpoint_id=quote(str(endpoint_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | WebhookDeliveryPage | None:
    if response.status_code == 200:
        response_200 = WebhookDeliveryPage.from_dict(response.json())

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
) -> Response[Error | WebhookDeliveryPage]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    endpoint_id: str,
    *,
    client: AuthenticatedClient,
    before: int | None | Unset = UNSET,
    limit: int | Unset = 100,
) -> Response[Error | WebhookDeliveryPage]:
    """List Webhook Deliveries

     Every delivery attempt, newest first.

    Args:
        endpoint_id (str): webhook endpoint id
        before (int | None | Unset): `next_cursor` of the previous page
        limit (int | Unset): most items on this page Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | WebhookDeliveryPage]
    """

    kwargs = _get_kwargs(
        endpoint_id=endpoint_id,
        before=before,
        limit=limit,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    endpoint_id: str,
    *,
    client: AuthenticatedClient,
    before: int | None | Unset = UNSET,
    limit: int | Unset = 100,
) -> Error | WebhookDeliveryPage | None:
    """List Webhook Deliveries

     Every delivery attempt, newest first.

    Args:
        endpoint_id (str): webhook endpoint id
        before (int | None | Unset): `next_cursor` of the previous page
        limit (int | Unset): most items on this page Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | WebhookDeliveryPage
    """

    return sync_detailed(
        endpoint_id=endpoint_id,
        client=client,
        before=before,
        limit=limit,
    ).parsed


async def asyncio_detailed(
    endpoint_id: str,
    *,
    client: AuthenticatedClient,
    before: int | None | Unset = UNSET,
    limit: int | Unset = 100,
) -> Response[Error | WebhookDeliveryPage]:
    """List Webhook Deliveries

     Every delivery attempt, newest first.

    Args:
        endpoint_id (str): webhook endpoint id
        before (int | None | Unset): `next_cursor` of the previous page
        limit (int | Unset): most items on this page Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | WebhookDeliveryPage]
    """

    kwargs = _get_kwargs(
        endpoint_id=endpoint_id,
        before=before,
        limit=limit,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    endpoint_id: str,
    *,
    client: AuthenticatedClient,
    before: int | None | Unset = UNSET,
    limit: int | Unset = 100,
) -> Error | WebhookDeliveryPage | None:
    """List Webhook Deliveries

     Every delivery attempt, newest first.

    Args:
        endpoint_id (str): webhook endpoint id
        before (int | None | Unset): `next_cursor` of the previous page
        limit (int | Unset): most items on this page Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | WebhookDeliveryPage
    """

    return (
        await asyncio_detailed(
            endpoint_id=endpoint_id,
            client=client,
            before=before,
            limit=limit,
        )
    ).parsed
