//! Django-compatible names for indexes and constraints, so a database made by Django and one
//! made by luamig carry the same names (`orders_order_customer_id_3a3f2a4d`).

use md5::{Digest, Md5};

/// Django's `names_digest`: the first `length` hex digits of md5 over the joined arguments.
pub fn names_digest(args: &[&str], length: usize) -> String {
    let mut h = Md5::new();
    for a in args {
        h.update(a.as_bytes());
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    hex[..length].to_string()
}

/// Django's `_create_index_name(table, columns, suffix)`, for a backend whose identifiers
/// are at most `max_length` characters (SQLite: 200, PostgreSQL: 63).
pub fn index_name(table: &str, columns: &[&str], suffix: &str, max_length: usize) -> String {
    let mut args = vec![table];
    args.extend_from_slice(columns);
    let mut hash_suffix = format!("{}{}", names_digest(&args, 8), suffix);
    let joined = columns.join("_");
    let name = format!("{table}_{joined}_{hash_suffix}");
    if name.chars().count() <= max_length {
        return name;
    }
    if hash_suffix.chars().count() > max_length / 3 {
        hash_suffix = hash_suffix.chars().take(max_length / 3).collect();
    }
    let other = (max_length - hash_suffix.chars().count()) / 2 - 1;
    let short = |s: &str| s.chars().take(other).collect::<String>();
    let mut name = format!("{}_{}_{}", short(table), short(&joined), hash_suffix);
    if name.starts_with('_') || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.pop();
        name.insert(0, 'D');
    }
    name
}

/// Django's `truncate_name`: identifiers longer than `length` keep a 4-digit hash.
pub fn truncate_name(name: &str, length: usize) -> String {
    if name.chars().count() <= length {
        return name.to_string();
    }
    let digest = names_digest(&[name], 4);
    format!(
        "{}{}",
        name.chars().take(length - 4).collect::<String>(),
        digest
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_names_django_generated() {
        // Names captured from Django 5.2's sqlmigrate output.
        assert_eq!(
            index_name("shop_item", &["code"], "_uniq", 200),
            "shop_item_code_7fe3372d_uniq"
        );
        assert_eq!(
            index_name("shop_item", &["didx"], "", 200),
            "shop_item_didx_9e5d0fa0"
        );
        assert_eq!(
            index_name("custom_opts", &["a", "b"], "_uniq", 200),
            "custom_opts_a_b_48b56b85_uniq"
        );
        assert_eq!(
            index_name("shop_item", &["owner_id"], "_fk_shop_author_id", 63),
            "shop_item_owner_id_5636367b_fk_shop_author_id"
        );
    }

    #[test]
    fn long_names_are_shortened_like_django() {
        let name = index_name(
            "shop_everything_tags",
            &["everything_id"],
            "_fk_shop_everything_id",
            63,
        );
        assert_eq!(
            name,
            "shop_everything_tags_everything_id_8b631912_fk_shop_ever"
        );
        assert!(name.len() <= 63);
    }
}
