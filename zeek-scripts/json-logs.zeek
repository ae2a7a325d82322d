# Write JSON logs (flowalerts reads TSV too; JSON keeps booleans and
# vectors typed). Epoch timestamps, as the readers expect.
redef LogAscii::use_json = T;
redef LogAscii::json_timestamps = JSON::TS_EPOCH;
