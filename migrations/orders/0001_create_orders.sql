-- Billing: one row per accepted order. `message_id` is assigned by billing-api before
-- publishing and travels as the AMQP message_id, so a redelivered message hits the unique
-- constraint and inserts nothing (ON CONFLICT DO NOTHING in the consumer).
CREATE TABLE orders (
    id              bigserial     PRIMARY KEY,
    message_id      uuid          NOT NULL UNIQUE,
    user_id         bigint        NOT NULL CHECK (user_id > 0),
    number_of_items integer       NOT NULL CHECK (number_of_items > 0),
    total_amount    numeric(12,2) NOT NULL CHECK (total_amount > 0),
    principal       text,
    created_at      timestamptz   NOT NULL DEFAULT now()
);

CREATE INDEX orders_user_id ON orders (user_id);
