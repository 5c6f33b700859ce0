-- Ownership by the token's `sub`: a Cognito username can be deleted and re-created for someone
-- else, a `sub` never is. `principal` stays, as the display label it always was.
--
-- Backfill: none, on purpose. Existing rows only carry the username label, and mapping a label
-- back to a `sub` would hand old orders to whoever holds that username today, which is exactly
-- the confusion this column ends. Rows without an owner are readable by admins only (fail
-- closed); an operator who has checked that no username was recycled can backfill from Cognito
-- (`aws cognito-idp list-users` gives username → sub) with an UPDATE per user.
ALTER TABLE orders ADD COLUMN owner_sub text;
