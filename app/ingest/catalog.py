"""What we know about metric names: which table stores them and how they aggregate.

Names are kept exactly as the app sent them (they drifted across app versions); a name missing
from here is stored generically in ``quantity_metrics`` with ``metric_types.known = false`` and
reported in the ingest response, never dropped.
"""

from __future__ import annotations

from enum import StrEnum


class Storage(StrEnum):
    QUANTITY = "quantity"
    ACTIVITY = "activity"
    HEART_RATE = "heart_rate"
    BLOOD_PRESSURE = "blood_pressure"
    BLOOD_GLUCOSE = "blood_glucose"
    INSULIN = "insulin"
    HYGIENE = "hygiene"
    SEXUAL_ACTIVITY = "sexual_activity"
    SLEEP = "sleep"


SPECIAL: dict[str, Storage] = {
    "heart_rate": Storage.HEART_RATE,
    "blood_pressure": Storage.BLOOD_PRESSURE,
    "blood_glucose": Storage.BLOOD_GLUCOSE,
    "insulin_delivery": Storage.INSULIN,
    "handwashing": Storage.HYGIENE,
    "toothbrushing": Storage.HYGIENE,
    "sexual_activity": Storage.SEXUAL_ACTIVITY,
    "sleep_analysis": Storage.SLEEP,
}

# Cumulative movement and energy: the bulk of a minute-level export, summed when bucketed.
ACTIVITY: frozenset[str] = frozenset(
    {
        "active_energy",
        "basal_energy_burned",
        "step_count",
        "walking_running_distance",
        "cycling_distance",
        "swimming_distance",
        "wheelchair_distance",
        "distance_downhill_snow_sports",
        "downhill_snow_sports",
        "flights_climbed",
        "apple_exercise_time",
        "apple_move_time",
        "apple_stand_time",
        "apple_stand_hour",
        "push_count",
        "wheelchair_push_count",
        "swimming_stroke_count",
        "swim_stroke_count",
        "time_in_daylight",
    }
)

# Other cumulative metrics (nutrition, mindfulness, counts of events): summed when bucketed.
CUMULATIVE_QUANTITY: frozenset[str] = frozenset(
    {
        "dietary_energy",
        "dietary_sugar",
        "dietary_water",
        "dietary_caffeine",
        "dietary_cholesterol",
        "dietary_biotin",
        "alcohol_consumption",
        "number_of_alcoholic_beverages",
        "biotin",
        "caffeine",
        "calcium",
        "carbohydrates",
        "chloride",
        "cholesterol",
        "chromium",
        "copper",
        "fiber",
        "folate",
        "iodine",
        "iron",
        "magnesium",
        "manganese",
        "molybdenum",
        "monounsaturated_fat",
        "monosaturated_fat",
        "niacin",
        "pantothenic_acid",
        "phosphorus",
        "polyunsaturated_fat",
        "potassium",
        "protein",
        "riboflavin",
        "saturated_fat",
        "selenium",
        "sodium",
        "thiamin",
        "total_fat",
        "vitamin_a",
        "vitamin_b12",
        "vitamin_b6",
        "vitamin_c",
        "vitamin_d",
        "vitamin_e",
        "vitamin_k",
        "zinc",
        "mindful_minutes",
        "inhaler_usage",
        "number_of_times_fallen",
        "number_of_time_fallen",
        "uv_exposure",
        "high_heart_rate_notifications",
        "low_heart_rate_notifications",
        "irregular_heart_rate_notifications",
    }
)

# Discrete single-value metrics (averaged when bucketed).
DISCRETE_QUANTITY: frozenset[str] = frozenset(
    {
        "apple_sleeping_wrist_temperature",
        "atrial_fibrillation_burden",
        "basal_body_temperature",
        "blood_alcohol_content",
        "blood_oxygen_saturation",
        "body_fat_percentage",
        "body_mass_index",
        "body_temperature",
        "breathing_disturbances",
        "cardio_recovery",
        "cycling_cadence",
        "cycling_functional_threshold_power",
        "cycling_power",
        "cycling_speed",
        "electrodermal_activity",
        "environmental_audio",
        "environmental_audio_exposure",
        "forced_expiratory_volume",
        "forced_expiratory_volume_1",
        "forced_vital_capacity",
        "headphone_audio",
        "headphone_audio_exposure",
        "heart_rate_variability",
        "height",
        "lean_body_mass",
        "peak_expiratory_flow_rate",
        "peripheral_perfusion_index",
        "physical_effort",
        "respiratory_rate",
        "resting_heart_rate",
        "running_ground_contact_time",
        "running_power",
        "running_speed",
        "running_stride_length",
        "running_vertical_oscillation",
        "six_minute_walking_test_distance",
        "six-minute_walking_test_distance",
        "stair_speed_down",
        "stair_speed_up",
        "stair_speed:_down",
        "stair_speed:_up",
        "under_water_depth",
        "under_water_temperature",
        "vo2_max",
        "vo2max",
        "waist_circumference",
        "walking_asymmetry_percentage",
        "walking_double_support_percentage",
        "walking_heart_rate",
        "walking_heart_rate_average",
        "walking_speed",
        "walking_step_length",
        "weight_body_mass",
    }
)

KNOWN: frozenset[str] = frozenset(SPECIAL) | ACTIVITY | CUMULATIVE_QUANTITY | DISCRETE_QUANTITY
CUMULATIVE: frozenset[str] = ACTIVITY | CUMULATIVE_QUANTITY

# Values that cannot be negative whatever the unit (temperatures and deviations can).
NON_NEGATIVE: frozenset[str] = CUMULATIVE | {
    name
    for name in DISCRETE_QUANTITY
    if "temperature" not in name and name not in {"cardio_recovery"}
}


def storage_for(name: str) -> Storage:
    special = SPECIAL.get(name)
    if special is not None:
        return special
    return Storage.ACTIVITY if name in ACTIVITY else Storage.QUANTITY
