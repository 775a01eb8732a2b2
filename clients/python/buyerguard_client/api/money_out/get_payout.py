from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.instruction import Instruction
from ...types import Response


def _get_kwargs(
    payout_id: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/payouts/{payout_id}".format(
            payout_id=quote(str(payout_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Error | Instruction | None:
    if response.status_code == 200:
        response_200 = Instruction.from_dict(response.json())

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Error | Instruction]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    payout_id: str,
    *,
    client: AuthenticatedClient,
) -> Response[Error | Instruction]:
    """Get Payout

     One payout instruction and its outcome; a merchant reads its own.

    Args:
        payout_id (str): payout id (an instruction of kind payout)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Instruction]
    """

    kwargs = _get_kwargs(
        payout_id=payout_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    payout_id: str,
    *,
    client: AuthenticatedClient,
) -> Error | Instruction | None:
    """Get Payout

     One payout instruction and its outcome; a merchant reads its own.

    Args:
        payout_id (str): payout id (an instruction of kind payout)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Instruction
    """

    return sync_detailed(
        payout_id=payout_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    payout_id: str,
    *,
    client: AuthenticatedClient,
) -> Response[Error | Instruction]:
    """Get Payout

     One payout instruction and its outcome; a merchant reads its own.

    Args:
        payout_id (str): payout id (an instruction of kind payout)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Instruction]
    """

    kwargs = _get_kwargs(
        payout_id=payout_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    payout_id: str,
    *,
    client: AuthenticatedClient,
) -> Error | Instruction | None:
    """Get Payout

     One payout instruction and its outcome; a merchant reads its own.

    Args:
        payout_id (str): payout id (an instruction of kind payout)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Instruction
    """

    return (
        await asyncio_detailed(
            payout_id=payout_id,
            client=client,
        )
    ).parsed
