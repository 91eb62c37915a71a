//! The notifications each event stores, with their texts (Korean, English
//! alongside). Callers store them inside the event's own transaction
//! (`sitga_persistence::notifications::store`, which the connection
//! remembers) and, after commit, hand what the commit returned
//! (`DbConn::commit_told`) to [`crate::bus::RoomBus::stored`] for live
//! delivery.

use sitga_auction::{ClockSale, Krw};
use sitga_core::{AuctionId, SaleId, UserId};
use sitga_persistence::notifications::NewNotification;
use sitga_user::NoticeEvent;
use sitga_user::notifications::dedupe_key;

fn new(
    user_id: UserId,
    event: &NoticeEvent<'_>,
    text_ko: String,
    text_en: String,
) -> NewNotification {
    NewNotification {
        user_id,
        kind: event.kind(),
        key: dedupe_key(event),
        auction_id: None,
        sale_id: None,
        pickup_id: None,
        text_ko,
        text_en,
    }
}

/// `user_id` was outbid on `auction_id` by bid number `by_seq` at `price`.
pub fn outbid(user_id: UserId, auction_id: AuctionId, by_seq: i64, price: Krw) -> NewNotification {
    let event = NoticeEvent::Outbid {
        auction: auction_id.get(),
        by_seq,
    };
    NewNotification {
        auction_id: Some(auction_id),
        ..new(
            user_id,
            &event,
            format!("경매 #{auction_id}에서 더 높은 입찰이 들어왔습니다. 현재가 {price}원입니다."),
            format!("You were outbid on auction #{auction_id}: the price is now {price} won."),
        )
    }
}

/// The owner of a maximum on `auction` that ran out of points answering
/// bid `at_seq`.
pub fn proxy_exhausted(user_id: UserId, auction_id: AuctionId, at_seq: i64) -> NewNotification {
    let event = NoticeEvent::ProxyExhausted {
        auction: auction_id.get(),
        at_seq,
    };
    NewNotification {
        auction_id: Some(auction_id),
        ..new(
            user_id,
            &event,
            format!(
                "경매 #{auction_id}의 자동 입찰이 포인트 부족으로 멈췄습니다. 포인트를 충전하고 다시 입찰해 주세요."
            ),
            format!(
                "Your maximum bid on auction #{auction_id} stopped: your points did not cover the next step. Charge points and bid again."
            ),
        )
    }
}

/// The winner and the seller of a sold auction.
pub fn sold(
    auction_id: AuctionId,
    winner_id: UserId,
    seller_id: UserId,
    price: Krw,
    sale_id: SaleId,
) -> [NewNotification; 2] {
    let auction = auction_id.get();
    let won = NewNotification {
        auction_id: Some(auction_id),
        sale_id: Some(sale_id),
        ..new(
            winner_id,
            &NoticeEvent::Won { auction },
            format!(
                "경매 #{auction_id}에 {price}원으로 낙찰되었습니다. 대금은 인계가 끝날 때까지 에스크로에 보관됩니다."
            ),
            format!(
                "You won auction #{auction_id} for {price} won; your payment waits in escrow until the handover."
            ),
        )
    };
    let sold = NewNotification {
        auction_id: Some(auction_id),
        sale_id: Some(sale_id),
        ..new(
            seller_id,
            &NoticeEvent::Sold { auction },
            format!("경매 #{auction_id}: {price}원에 판매되었습니다. 물건을 인계해 주세요."),
            format!("Auction #{auction_id} sold for {price} won: hand the catch over."),
        )
    };
    [won, sold]
}

/// A clock's accept: to its buyer and to the seller, one per sale.
pub fn sold_units(
    auction_id: AuctionId,
    sale: &ClockSale,
    seller_id: UserId,
    sale_id: SaleId,
) -> [NewNotification; 2] {
    let (auction, id) = (auction_id.get(), sale_id.get());
    let (units, price, total) = (sale.units, sale.unit_price, sale.total);
    let about = |n: NewNotification| NewNotification {
        auction_id: Some(auction_id),
        sale_id: Some(sale_id),
        ..n
    };
    [
        about(new(
            sale.buyer_id,
            &NoticeEvent::BoughtUnits { auction, sale: id },
            format!(
                "경매 #{auction_id}에서 {units}개를 개당 {price}원(합계 {total}원)에 낙찰받았습니다. 대금은 인계가 끝날 때까지 에스크로에 보관됩니다."
            ),
            format!(
                "You bought {units} of auction #{auction_id} at {price} won each ({total} won); your payment waits in escrow until the handover."
            ),
        )),
        about(new(
            seller_id,
            &NoticeEvent::SoldUnits { auction, sale: id },
            format!(
                "경매 #{auction_id}: {units}개가 개당 {price}원(합계 {total}원)에 판매되었습니다. 물건을 인계해 주세요."
            ),
            format!(
                "Auction #{auction_id}: {units} sold at {price} won each ({total} won): hand them over."
            ),
        )),
    ]
}

/// `auction_id` ends in `minutes` (10 or 1), to one of its followers.
pub fn ending_soon(user_id: UserId, auction_id: AuctionId, minutes: i64) -> NewNotification {
    let event = NoticeEvent::EndingSoon {
        auction: auction_id.get(),
        minutes,
    };
    NewNotification {
        auction_id: Some(auction_id),
        ..new(
            user_id,
            &event,
            format!("경매 #{auction_id} 마감 {minutes}분 전입니다."),
            format!(
                "Auction #{auction_id} ends in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            ),
        )
    }
}

/// Sale `sale_id` (of `auction_id`) reached `state` (a `SaleState` code, or
/// `reminded`: the buyer is reminded to give the delivery details), to one
/// of its parties.
pub fn sale_step(
    user_id: UserId,
    sale_id: SaleId,
    auction_id: AuctionId,
    state: &str,
) -> NewNotification {
    let (ko, en) = match state {
        "awaiting_shipment" => (
            "구매자가 수령 방법을 정했습니다. 발송하거나 수령 준비를 해 주세요.",
            "The buyer chose how to receive it: ship it or get it ready for pickup.",
        ),
        "shipped" => (
            "판매자가 발송했습니다. 받으면 수령 확인을 해 주세요.",
            "The seller shipped it: confirm when it arrives.",
        ),
        "ready_for_pickup" => (
            "수령 준비가 되었습니다. 인계 코드로 받아 가세요.",
            "It is ready for pickup: collect it with your handover code.",
        ),
        "settled" => (
            "인계가 끝나 대금이 지급되었습니다.",
            "The handover is done and the payment was paid out.",
        ),
        "disputed" => (
            "구매자가 이의를 제기했습니다. 운영자가 확인합니다.",
            "The buyer opened a dispute; an operator will look at it.",
        ),
        "cancelled" => (
            "거래가 취소되었습니다. 대금은 구매자에게 반환되었습니다.",
            "The sale was cancelled; the payment went back to the buyer.",
        ),
        "refunded" => (
            "운영자가 대금을 구매자에게 환불했습니다.",
            "An operator refunded the payment to the buyer.",
        ),
        "reminded" => (
            "낙찰 물건의 수령 방법을 정해 주세요.",
            "Choose how to receive the catch you won.",
        ),
        _ => ("거래 상태가 바뀌었습니다.", "The sale moved on."),
    };
    let event = NoticeEvent::SaleUpdate {
        sale: sale_id.get(),
        step: state,
    };
    NewNotification {
        sale_id: Some(sale_id),
        auction_id: Some(auction_id),
        ..new(
            user_id,
            &event,
            format!("거래 #{sale_id}: {ko}"),
            format!("Sale #{sale_id}: {en}"),
        )
    }
}

/// A pickup just moved by `actor` (nickname `actor_name`): claimed
/// (`on_way`) or completed. The other party is told; other moves tell
/// nobody.
pub fn pickup_moved(
    pickup: &sitga_persistence::pickups::Pickup,
    actor: UserId,
    actor_name: &str,
) -> Vec<NewNotification> {
    use sitga_coffee_grounds::PickupStatus;
    let sides = pickup.sides();
    let others = sides
        .cafe
        .into_iter()
        .chain(sides.recycler)
        .filter(move |party| *party != actor);
    let id = pickup.id;
    let grams = pickup.measured().unwrap_or_else(|| pickup.posted()).get();
    match pickup.status() {
        PickupStatus::OnWay => others
            .map(|user| {
                let event = NoticeEvent::PickupClaimed { pickup: id.get() };
                NewNotification {
                    pickup_id: Some(id),
                    ..new(
                        user,
                        &event,
                        format!("커피박 수거 #{id}: {actor_name}님이 수거를 맡았습니다."),
                        format!("{actor_name} took on coffee-grounds pickup #{id}."),
                    )
                }
            })
            .collect(),
        PickupStatus::Completed => others
            .map(|user| {
                let event = NoticeEvent::PickupCompleted { pickup: id.get() };
                NewNotification {
                    pickup_id: Some(id),
                    ..new(
                        user,
                        &event,
                        format!("커피박 수거 #{id}: {grams} g 수거가 완료되었습니다."),
                        format!("Coffee-grounds pickup #{id} ({grams} g) is completed."),
                    )
                }
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// `user_id` earned a badge.
pub fn badge_awarded(user_id: UserId, badge: sitga_badge::BadgeCode) -> NewNotification {
    let event = NoticeEvent::BadgeAwarded { code: badge.code() };
    let about = badge.badge();
    new(
        user_id,
        &event,
        format!("새 배지를 받았습니다: {}", about.name_ko),
        format!("You earned a badge: {}", about.name_en),
    )
}
