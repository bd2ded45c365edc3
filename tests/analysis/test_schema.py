from analysis import schema


def test_tag_and_metric_names_are_distinct():
    tags = [
        schema.ROLE,
        schema.STUDY,
        schema.ARM,
        schema.SEED,
        schema.PRESET,
        schema.TRIAL_ID,
        schema.FAILURE_REASON,
        schema.PARENT_RUN_ID,
        schema.ARMS,
    ]
    metrics = [
        schema.VAL_THETA_L1,
        schema.TRAIN_LOSS,
        schema.ELAPSED_S,
        schema.PATH_ENTROPY,
        schema.TEST_THETA_L1,
        schema.VAL_TOTAL_VARIATION,
        schema.CONVERGENCE_STEP,
        schema.STEPS_PER_SECOND,
    ]
    assert len(set(tags)) == len(tags) and len(set(metrics)) == len(metrics)
    # the per-seed CSV uses the final metric names as columns
    assert schema.REQUIRED_COLUMNS[2:] == (schema.TEST_THETA_L1, schema.VAL_TOTAL_VARIATION, schema.CONVERGENCE_STEP)


def test_name_helpers():
    assert schema.per_param(schema.TEST_THETA_L1, "am") == "test_theta_l1_am"
    assert schema.pi_artifact_dir("chirplet-a") == "theta_is/chirplet-a"
    assert schema.PATH_KEYS == ("index", "n2", "n_fr", "spin", "rate_hz", "scale_cyc_per_oct")
